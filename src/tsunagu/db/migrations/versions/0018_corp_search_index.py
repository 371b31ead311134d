"""Corporate records: partial indexes for name search (current, not 検索対象除外)

A prefix search reads ``name_key`` (or ``furigana_key``) in key order and stops after a page;
both indexes end in ``corporate_number``, the search's tie-break, and cover only the rows a
search lists. The furigana index carries ``name_key`` so that matches by reading can be put in
name order from the index.

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


def downgrade() -> None:
    op.drop_index("ix_corporation_record_search_furigana", table_name="corporation_record")
    op.drop_index("ix_corporation_record_search_name", table_name="corporation_record")
