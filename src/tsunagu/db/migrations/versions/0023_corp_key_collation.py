"""Corporate records: the search keys and the number in the "C" collation on PostgreSQL

Name search reads a range of keys from a prefix to the prefix followed by U+10FFFF, in key
order; that is exact in code-point order (SQLite's), which a database's locale collation need
not be. The number's digits sort the same in any collation. Bytewise comparison builds the
indexes on these columns faster (abbreviated keys). PostgreSQL rebuilds those indexes; SQLite
is unchanged.

Revision ID: 0023_corp_key_collation
Revises: 0022_corp_unused_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_corp_key_collation"
down_revision = "0022_corp_unused_indexes"
branch_labels = None
depends_on = None

COLUMNS = {"name_key": 300, "furigana_key": 500, "corporate_number": 13}


def _set(collation: str | None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column, length in COLUMNS.items():
        op.alter_column(
            "corporation_record",
            column,
            type_=sa.String(length, collation=collation),
            existing_nullable=False,
        )


def upgrade() -> None:
    _set("C")


def downgrade() -> None:
    _set(None)
