"""Plain records the seed loaders produce and the writer stores: one shape for every source."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


class BadRecord(ValueError):
    """A source record that cannot be mapped to the catalog; it is counted and skipped."""


@dataclass(frozen=True)
class OrgRecord:
    name: str
    title: str
    title_en: str = ""
    description: str = ""
    url: str = ""
    image_url: str = ""
    corporate_number: str | None = None
    lg_code: str | None = None


@dataclass(frozen=True)
class GroupRecord:
    name: str
    title: str
    description: str = ""


@dataclass
class ElementRecord:
    """A column of a distribution's schema (data dictionary entry)."""

    name: str
    label_ja: str = ""
    definition: str = ""
    data_type: str = "string"
    unit: str = ""
    pattern: str = ""
    required: bool = False
    code_list_name: str = ""


@dataclass
class ResourceRecord:
    id: str
    position: int
    name: str = ""
    description: str = ""
    url: str = ""
    download_url: str = ""
    format: str = ""
    media_type: str = ""
    byte_size: int | None = None
    checksum: str = ""
    checksum_algorithm: str = ""
    language: str = ""
    created: datetime | None = None
    modified: datetime | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    elements: list[ElementRecord] = field(default_factory=list)


@dataclass(frozen=True)
class ServiceRecord:
    """An API that serves the dataset (dcat:DataService)."""

    id: str
    title: str
    endpoint_url: str
    description: str = ""
    endpoint_description: str = ""


@dataclass
class DatasetRecord:
    id: str
    name: str
    title: str
    organization: OrgRecord
    metadata_created: datetime
    metadata_modified: datetime
    title_en: str = ""
    notes: str = ""
    notes_en: str = ""
    license_id: str | None = None
    url: str = ""
    version: str = ""
    author: str = ""
    author_email: str = ""
    maintainer: str = ""
    maintainer_email: str = ""
    frequency: str = ""
    temporal_start: date | None = None
    temporal_end: date | None = None
    issued: datetime | None = None
    modified: datetime | None = None
    private: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    groups: list[GroupRecord] = field(default_factory=list)
    municipalities: list[str] = field(default_factory=list)
    resources: list[ResourceRecord] = field(default_factory=list)
    services: list[ServiceRecord] = field(default_factory=list)
    # Set by the mapper when the licence had to fall back (unknown or missing); for the counts.
    license_fallback: bool = False
