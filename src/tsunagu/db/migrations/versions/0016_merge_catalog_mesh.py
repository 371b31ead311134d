"""Join the dataset versions, quality, datastore and mesh branches into one head

The four were written in parallel, each on its own branch from 0011_merge. This revision
changes nothing; it gives later migrations (and tools/autogenerate.py) a single parent.

Revision ID: 0016_merge
Revises: 0012_versions, 0013_quality, 0014_datastore, 0015_mesh
"""

from __future__ import annotations

revision = "0016_merge"
down_revision = ("0012_versions", "0013_quality", "0014_datastore", "0015_mesh")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
