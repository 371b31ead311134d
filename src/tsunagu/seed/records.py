"""The plain records seed loaders produce: they live in the catalog (harvesting shares them)."""

from tsunagu.catalog.records import (
    BadRecord,
    DatasetRecord,
    ElementRecord,
    GroupRecord,
    OrgRecord,
    ResourceRecord,
    ServiceRecord,
)

__all__ = [
    "BadRecord",
    "DatasetRecord",
    "ElementRecord",
    "GroupRecord",
    "OrgRecord",
    "ResourceRecord",
    "ServiceRecord",
]
