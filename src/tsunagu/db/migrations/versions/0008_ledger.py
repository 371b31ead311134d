"""Transparency log: entries, Merkle tiles, tree head, checkpoints, cosignatures, access records

Revision ID: 0008_ledger
Revises: 0003
Create Date: 2026-11-26 04:46:52.472618
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0008_ledger"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoint",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_ledger_checkpoint")),
    )
    op.create_table(
        "ledger_entry",
        sa.Column(
            "idx",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_entry")),
    )
    op.create_table(
        "ledger_tile",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("tile_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("width", sa.SmallInteger(), nullable=False),
        sa.Column("nodes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "tile_index", name=op.f("pk_ledger_tile")),
    )
    op.create_table(
        "ledger_tree",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_tree")),
    )
    # The one tree-head row exists from the start, so concurrent first appends lock it.
    tree = sa.table(
        "ledger_tree",
        sa.column("id"),
        sa.column("size"),
        sa.column("root"),
        sa.column("updated_at", sa.DateTime()),
    )
    epoch = datetime(1970, 1, 1)  # noqa: DTZ001 - columns hold naive UTC
    op.bulk_insert(
        tree, [{"id": 1, "size": 0, "root": hashlib.sha256(b"").digest(), "updated_at": epoch}]
    )
    op.create_table(
        "ledger_witness_state",
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_ledger_witness_state")),
    )
    op.create_table(
        "ledger_access_record",
        sa.Column(
            "idx",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.String(length=120), nullable=False),
        sa.Column("pseudonym", sa.String(length=200), nullable=False),
        sa.Column("accessed_at", sa.DateTime(), nullable=False),
        sa.Column("hidden_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["idx"], ["ledger_entry.idx"], name=op.f("fk_ledger_access_record_idx_ledger_entry")
        ),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_access_record")),
    )
    with op.batch_alter_table("ledger_access_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_access_record_person", ["provider_id", "pseudonym"], unique=False
        )

    op.create_table(
        "ledger_cosignature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column("key_name", sa.String(length=255), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_size"],
            ["ledger_checkpoint.size"],
            name=op.f("fk_ledger_cosignature_checkpoint_size_ledger_checkpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_cosignature")),
        sa.UniqueConstraint(
            "checkpoint_size",
            "key_name",
            "key_id",
            name=op.f("uq_ledger_cosignature_checkpoint_size"),
        ),
    )


def downgrade() -> None:
    op.drop_table("ledger_cosignature")
    with op.batch_alter_table("ledger_access_record", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_access_record_person")

    op.drop_table("ledger_access_record")
    op.drop_table("ledger_witness_state")
    op.drop_table("ledger_tree")
    op.drop_table("ledger_tile")
    op.drop_table("ledger_entry")
    op.drop_table("ledger_checkpoint")
