"""Join the parallel branches of the contexts into one head

The search change log, trust, ledger, harvest and resident registry migrations were written in
parallel, each on its own branch from 0003 (and 0006 joining address and corporations/laws).
This revision changes nothing; it gives later migrations (and autogenerate) a single parent.

Revision ID: 0011_merge
Revises: 0006_search_change, 0007_trust, 0008_ledger, 0009_harvest, 0010_residents
"""

from __future__ import annotations

revision = "0011_merge"
down_revision = (
    "0006_search_change",
    "0007_trust",
    "0008_ledger",
    "0009_harvest",
    "0010_residents",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
