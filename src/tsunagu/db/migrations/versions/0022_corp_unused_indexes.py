"""Corporate records: drop the indexes on import_id and lg_code, which no query uses

No query filters corporation_record by import_id (every row of a first load has the same one)
or by lg_code (address linkage reads all current rows), yet a first load of the 全件 file built
both: about 1 s of a quiet 20 s import of 1,000,000 rows on SQLite.

Revision ID: 0022_corp_unused_indexes
Revises: 0021_mesh_known_cert
"""

from __future__ import annotations

from alembic import op

revision = "0022_corp_unused_indexes"
down_revision = "0021_mesh_known_cert"
branch_labels = None
depends_on = None

COLUMNS = ("import_id", "lg_code")


def upgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"ix_corporation_record_{column}", table_name="corporation_record")


def downgrade() -> None:
    for column in COLUMNS:
        op.create_index(f"ix_corporation_record_{column}", "corporation_record", [column])
