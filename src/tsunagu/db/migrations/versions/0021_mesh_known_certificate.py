"""Mesh: every node and issuing certificate a node has seen in a trust list (message-log export)

Revision ID: 0021_mesh_known_cert
Revises: 0020_corp_furigana
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_mesh_known_cert"
down_revision = "0020_corp_furigana"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mesh_known_certificate",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.String(length=200), nullable=True),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_mesh_known_certificate")),
    )


def downgrade() -> None:
    op.drop_table("mesh_known_certificate")
