"""Dataset versions: a snapshot of the dataset per change, with author and change summary

Revision ID: 0012_versions
Revises: 0011_merge
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_versions"
down_revision = "0011_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("change", sa.String(length=20), nullable=False),
        sa.Column("author_type", sa.String(length=20), nullable=False),
        sa.Column("author_ref", sa.String(length=200), nullable=False),
        sa.Column("author_organization", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["dataset.pk"],
            name=op.f("fk_dataset_version_dataset_pk_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_version")),
        sa.UniqueConstraint("dataset_pk", "number", name=op.f("uq_dataset_version_dataset_pk")),
    )


def downgrade() -> None:
    op.drop_table("dataset_version")
