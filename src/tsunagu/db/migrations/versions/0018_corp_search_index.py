"""Corporate records: partial indexes for name search (current, not 検索対象除外) replace
the (current, key) indexes

A prefix search reads ``name_key`` (or ``furigana_key``) in key order and stops after a page;
both indexes end in ``corporate_number``, the search's tie-break, and cover only the rows a
search lists. The furigana index carries ``name_key`` so that matches by reading can be put in
name order from the index. They replace ``ix_corporation_record_current_name`` and
``_current_furigana`` (used by name search only), which SQLite's planner preferred for the
capped count although they cannot answer it alone (``hihyoji`` is not in them): 30 ms instead
of 1 ms for 10,001 matches at 1,000,000 rows.

Revision ID: 0018_corp
Revises: 0017_corp
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0018_corp"
down_revision = "0017_corp"
branch_labels = None
depends_on = None

SEARCHABLE: dict[str, Any] = {
    "sqlite_where": sa.text("current IS 1 AND hihyoji IS 0"),
    "postgresql_where": sa.text("current IS true AND hihyoji IS false"),
}


OLD = {
    "ix_corporation_record_current_name": ["current", "name_key"],
    "ix_corporation_record_current_furigana": ["current", "furigana_key"],
}


def upgrade() -> None:
    op.create_index(
        "ix_corporation_record_search_name",
        "corporation_record",
        ["name_key", "corporate_number"],
        **SEARCHABLE,
    )
    op.create_index(
        "ix_corporation_record_search_furigana",
        "corporation_record",
        ["furigana_key", "name_key", "corporate_number"],
        **SEARCHABLE,
    )
    for name in OLD:
        op.drop_index(name, table_name="corporation_record")


def downgrade() -> None:
    for name, columns in OLD.items():
        op.create_index(name, "corporation_record", columns)
    op.drop_index("ix_corporation_record_search_furigana", table_name="corporation_record")
    op.drop_index("ix_corporation_record_search_name", table_name="corporation_record")
