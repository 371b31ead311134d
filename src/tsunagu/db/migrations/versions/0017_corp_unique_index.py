"""Corporate records: the event key becomes a unique index; the number's own index goes

A first load into an empty corporate registry drops the table's indexes and builds them once
at the end; SQLite cannot drop a table constraint, so the event key's uniqueness moves from a
constraint to a unique index of the same name and columns.
``ix_corporation_record_corporate_number`` is dropped: the unique index starts with the number
and serves the same lookups.

Revision ID: 0017_corp
Revises: 0016_merge
"""

from __future__ import annotations

from alembic import op

revision = "0017_corp"
down_revision = "0016_merge"
branch_labels = None
depends_on = None

KEY = ["corporate_number", "process", "change_date", "update_date", "source"]


def upgrade() -> None:
    with op.batch_alter_table("corporation_record", schema=None) as batch_op:
        batch_op.drop_constraint("uq_corporation_record_event", type_="unique")
        batch_op.drop_index("ix_corporation_record_corporate_number")
        batch_op.create_index("uq_corporation_record_event", KEY, unique=True)


def downgrade() -> None:
    with op.batch_alter_table("corporation_record", schema=None) as batch_op:
        batch_op.drop_index("uq_corporation_record_event")
        batch_op.create_index(
            "ix_corporation_record_corporate_number", ["corporate_number"], unique=False
        )
        batch_op.create_unique_constraint("uq_corporation_record_event", KEY)
