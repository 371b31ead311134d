"""CKAN package → record mapping: :mod:`tsunagu.catalog.ckan_records` (harvesting shares it)."""

from tsunagu.catalog.ckan_records import (
    FALLBACK_LICENSE,
    NAME_RE,
    clip,
    map_license,
    package_to_record,
    parse_datetime,
    unwrap,
)

__all__ = [
    "FALLBACK_LICENSE",
    "NAME_RE",
    "clip",
    "map_license",
    "package_to_record",
    "parse_datetime",
    "unwrap",
]
