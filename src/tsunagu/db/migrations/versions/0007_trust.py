"""Trust: certificates issued by the platform CA (with revocation) and time-stamp serials

Revision ID: 0007_trust
Revises: 0003
Create Date: 2026-11-26 04:46:03.130038
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_trust"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trust_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("member_id", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("node_url", sa.String(length=2000), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revocation_reason", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_certificate")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_trust_certificate_fingerprint")),
        sa.UniqueConstraint("serial", name=op.f("uq_trust_certificate_serial")),
    )
    with op.batch_alter_table("trust_certificate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trust_certificate_member_id"), ["member_id"], unique=False
        )
    op.create_table(
        "trust_timestamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hash_algorithm", sa.String(length=20), nullable=False),
        sa.Column("message_imprint", sa.String(length=128), nullable=False),
        sa.Column("gen_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_timestamp")),
    )


def downgrade() -> None:
    op.drop_table("trust_timestamp")
    with op.batch_alter_table("trust_certificate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trust_certificate_member_id"))
    op.drop_table("trust_certificate")
