"""Corporate records: no stored row hash; rows of one event are compared column by column

``row_hash`` held the SHA-256 (64 hex characters) of a row's published content, to tell an
unchanged row from a conflicting one when a file repeats an event that is already stored. Only
those few rows are ever compared, and the import now compares their columns in SQL; the hash
was 65 bytes of every stored row's 292 on PostgreSQL and a SHA-256 a row in every import.

The downgrade adds the column back and computes each row's hash as the importer of revision
0024 did (the text below is that function's, kept here so that it cannot drift).

Revision ID: 0025_corp_no_row_hash
Revises: 0024_mesh_access_version
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0025_corp_no_row_hash"
down_revision = "0024_mesh_access_version"
branch_labels = None
depends_on = None

# Every published column but ``latest``, in the NTA file's order: what the hash covered.
HASHED = (
    "corporate_number", "process", "correct", "update_date", "change_date", "name",
    "name_image_id", "kind", "prefecture_name", "city_name", "street_number",
    "address_image_id", "prefecture_code", "city_code", "post_code", "address_outside",
    "address_outside_image_id", "close_date", "close_cause", "successor_corporate_number",
    "change_cause", "assignment_date", "en_name", "en_prefecture_name", "en_city_name",
    "en_address_outside", "furigana", "hihyoji",
)  # fmt: skip
BATCH = 5000


def upgrade() -> None:
    # A plain ALTER TABLE ... DROP COLUMN on both (SQLite has it since 3.35): no copy of the
    # table; no index or constraint names the column.
    op.drop_column("corporation_record", "row_hash")


def _hash(values: Any) -> str:
    """Revision 0024's ``importer.row_hash``: the cells joined by U+001F, flags as True or
    False, dates as ISO text, NULL as empty text."""
    parts = []
    for value in values:
        if value is None:
            parts.append("")
        elif isinstance(value, bool):
            parts.append("True" if value else "False")
        else:
            parts.append(str(value))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def downgrade() -> None:
    op.add_column(
        "corporation_record",
        sa.Column("row_hash", sa.String(64), nullable=False, server_default=""),
    )
    bind = op.get_bind()
    records = sa.table("corporation_record", sa.column("id"), sa.column("row_hash"),
                       *(sa.column(c) for c in HASHED))  # fmt: skip
    # Rows typed by reflection, so that dates and flags come back as date and bool.
    typed = sa.Table("corporation_record", sa.MetaData(), autoload_with=bind)
    update = (
        records.update()
        .where(records.c.id == sa.bindparam("row_id"))
        .values(row_hash=sa.bindparam("digest"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(typed.c.id, *(typed.c[c] for c in HASHED))
            .where(typed.c.id > last)
            .order_by(typed.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(update, [{"row_id": row[0], "digest": _hash(row[1:])} for row in rows])
        last = rows[-1][0]
