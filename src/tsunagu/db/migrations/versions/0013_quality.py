"""Quality: URL checks, machine-readability file checks, score snapshots

Revision ID: 0013_quality
Revises: 0011_merge
Create Date: 2026-11-26 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_quality"
down_revision = "0011_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_url_check",
        sa.Column("url_hash", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("url_hash", name=op.f("pk_quality_url_check")),
    )
    with op.batch_alter_table("quality_url_check", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_url_check_checked_at"), ["checked_at"], unique=False
        )
    op.create_table(
        "quality_file_check",
        sa.Column("distribution_pk", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("finding_count", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["distribution_pk"],
            ["distribution.pk"],
            name=op.f("fk_quality_file_check_distribution_pk_distribution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("distribution_pk", name=op.f("pk_quality_file_check")),
    )
    op.create_table(
        "quality_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("datasets", sa.Integer(), nullable=False),
        sa.Column("mqa_points", sa.Float(), nullable=False),
        sa.Column("mqa_rating", sa.String(length=20), nullable=False),
        sa.Column("stars", sa.Float(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_snapshot")),
    )
    with op.batch_alter_table("quality_snapshot", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quality_snapshot_scope_key", ["scope", "key", "taken_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("quality_snapshot")
    op.drop_table("quality_file_check")
    with op.batch_alter_table("quality_url_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_url_check_checked_at"))
    op.drop_table("quality_url_check")
