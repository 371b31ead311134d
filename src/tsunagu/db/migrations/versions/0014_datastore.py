"""Datastore: the registry of distributions loaded as tables (the tables are created per load)

On PostgreSQL the datastore tables live in their own schema ``datastore``, so the read-only
role of the SQL endpoint can be granted exactly them.

Revision ID: 0014_datastore
Revises: 0011_merge
Create Date: 2026-11-26 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_datastore"
down_revision = "0011_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datastore_table",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("distribution_pk", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("source_name", sa.String(length=500), nullable=False),
        sa.Column("file_format", sa.String(length=10), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("load_errors", sa.JSON(), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["distribution_pk"],
            ["distribution.pk"],
            name=op.f("fk_datastore_table_distribution_pk_distribution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datastore_table")),
        sa.UniqueConstraint("distribution_pk", name=op.f("uq_datastore_table_distribution_pk")),
        sa.UniqueConstraint("table_name", name=op.f("uq_datastore_table_table_name")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SCHEMA IF NOT EXISTS datastore")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SCHEMA IF EXISTS datastore CASCADE")
    op.drop_table("datastore_table")
