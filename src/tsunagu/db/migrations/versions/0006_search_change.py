"""Search change log (search_change) for search engines outside the database; merges the
address-registry and corporations/laws branches

Revision ID: 0006_search_change
Revises: 0004_address, 0005_corp_laws
Create Date: 2026-11-26 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_search_change"
down_revision = ("0004_address", "0005_corp_laws")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_change",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_search_change")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("search_change")
