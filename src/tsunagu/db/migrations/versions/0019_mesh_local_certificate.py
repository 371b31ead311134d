"""Mesh: local systems' client certificates (the node's HTTPS local listener)

Revision ID: 0019_mesh_local_cert
Revises: 0018_corp
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_mesh_local_cert"
down_revision = "0018_corp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mesh_local_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mesh_local_certificate")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_mesh_local_certificate_fingerprint")),
    )


def downgrade() -> None:
    op.drop_table("mesh_local_certificate")
