"""Mesh: a version number of the access configuration, raised by triggers

Every message a provider admits needs its service and the access rule for its client. A node
keeps those decisions in memory; to know when one is out of date, whoever changes a service, a
rule or a group — this process, another process of the same node, the CLI, SQL by hand —
raises ``mesh_access_version.version`` in the same transaction, by trigger, so nothing can
change the rules without it. The provider reads the number back in the statement that writes
the message's log row (``RETURNING``) and decides again when it moved.

On SQLite, a later migration that rebuilds one of these tables (Alembic's batch mode copies
the table and drops the old one, with its triggers) must create the triggers again;
tests/mesh/test_units.py checks every kind of change against the migrated schema.

Revision ID: 0024_mesh_access_version
Revises: 0023_corp_key_collation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_mesh_access_version"
down_revision = "0023_corp_key_collation"
branch_labels = None
depends_on = None

TABLES = ("mesh_service", "mesh_access_rule", "mesh_group_member")
BUMP = "UPDATE mesh_access_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "mesh_access_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mesh_access_version")),
    )
    op.execute("INSERT INTO mesh_access_version (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION mesh_access_version_bump() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_access_version AFTER INSERT OR UPDATE OR DELETE "
                f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
                "EXECUTE FUNCTION mesh_access_version_bump()"
            )
        return
    for table in TABLES:  # SQLite: one trigger per table and kind of change
        for change in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_{change.lower()}_access_version AFTER {change} "
                f"ON {table} BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_access_version ON {table}")
        op.execute("DROP FUNCTION mesh_access_version_bump()")
    else:
        for table in TABLES:
            for change in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_{change}_access_version")
    op.drop_table("mesh_access_version")
