"""The seed's idempotent writer: :mod:`tsunagu.catalog.bulk` (harvesting uses it too)."""

from tsunagu.catalog.bulk import (
    BATCH,
    WriteStats,
    chunks,
    ensure_groups,
    ensure_organizations,
    index_datasets,
    newest_per_name,
    stable_uuid,
    upsert_source,
    write_datasets,
)

__all__ = [
    "BATCH",
    "WriteStats",
    "chunks",
    "ensure_groups",
    "ensure_organizations",
    "index_datasets",
    "newest_per_name",
    "stable_uuid",
    "upsert_source",
    "write_datasets",
]
