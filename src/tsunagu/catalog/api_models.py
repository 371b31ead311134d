"""Response and request models of the REST API (``/api/v1``), so OpenAPI documents them.

Datasets keep CKAN's field names (the dicts of :mod:`tsunagu.catalog.ckan`), so a record read
from either API can be written back through either API.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .schemas import CKAN_READ_ONLY, DatasetIn


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class TagOut(_Out):
    id: str
    name: str
    display_name: str
    state: str = "active"
    vocabulary_id: str | None = None


class GroupRefOut(_Out):
    id: str
    name: str
    title: str
    display_name: str
    description: str = ""


class OrganizationOut(_Out):
    id: str
    name: str
    title: str
    title_en: str = ""
    display_name: str
    description: str = ""
    image_url: str = ""
    url: str = ""
    corporate_number: str | None = Field(None, description="法人番号 (13 digits)")
    lg_code: str | None = Field(None, description="全国地方公共団体コード, if a municipality")
    created: str | None = None
    is_organization: bool = True
    type: str = "organization"
    state: str = "active"
    package_count: int | None = Field(None, description="Public datasets of the organization")


class DataElementOut(_Out):
    name: str
    label_ja: str = ""
    definition: str = ""
    data_type: str = "string"
    unit: str = ""
    pattern: str = ""
    required: bool = False
    code_list: str = ""


class ResourceOut(_Out):
    id: str
    package_id: str
    position: int
    name: str
    description: str
    url: str
    download_url: str = ""
    format: str
    mimetype: str | None = None
    size: int | None = None
    hash: str = ""
    hash_algorithm: str = ""
    language: str = ""
    created: str | None = None
    last_modified: str | None = None
    state: str = "active"
    data_dictionary: list[DataElementOut] = Field(default_factory=list)


class ExtraOut(_Out):
    key: str
    value: str


class DataServiceOut(_Out):
    id: str
    title: str
    description: str = ""
    endpoint_url: str
    endpoint_description: str = ""


class DatasetOut(_Out):
    """A dataset as a CKAN package dict, with tsunagu's extensions."""

    id: str
    name: str
    title: str
    title_en: str = ""
    notes: str = ""
    notes_en: str = ""
    type: str = "dataset"
    state: str
    private: bool
    owner_org: str
    organization: OrganizationOut
    license_id: str = ""
    license_title: str = ""
    license_url: str = ""
    isopen: bool = False
    url: str = ""
    version: str = ""
    author: str = ""
    author_email: str = ""
    maintainer: str = ""
    maintainer_email: str = ""
    metadata_created: str
    metadata_modified: str
    issued: str | None = None
    modified: str | None = None
    frequency: str = ""
    temporal_start: str | None = None
    temporal_end: str | None = None
    municipalities: list[str] = Field(default_factory=list)
    num_tags: int
    tags: list[TagOut]
    groups: list[GroupRefOut]
    num_resources: int
    resources: list[ResourceOut]
    extras: list[ExtraOut]
    data_services: list[DataServiceOut] = Field(default_factory=list)


class FacetItem(BaseModel):
    name: str
    display_name: str
    count: int


class Links(BaseModel):
    self: str
    next: str | None = None
    prev: str | None = None


class DatasetPage(BaseModel):
    """One page of a dataset search."""

    total: int = Field(description="Datasets matching the query and filters")
    start: int
    rows: int
    items: list[DatasetOut]
    facets: dict[str, list[FacetItem]] = Field(
        default_factory=dict, description="Counts per value of each requested facet field"
    )
    links: Links


class OrganizationPage(BaseModel):
    total: int
    items: list[OrganizationOut]


class LicenseOut(_Out):
    id: str
    title: str
    title_en: str = ""
    url: str = ""
    is_okd_compliant: bool
    eu_uri: str = ""


class CodeListSummary(BaseModel):
    name: str
    version: str
    versions: list[str] = Field(default_factory=list, description="All versions, newest first")
    title: str
    title_en: str = ""
    description: str = ""
    publisher: str = ""
    issued: date | None = None


class CodeListEntryOut(BaseModel):
    code: str
    label: str
    label_kana: str = ""
    label_en: str = ""
    parent_code: str = ""
    valid_from: date | None = None
    valid_to: date | None = None


class CodeListOut(CodeListSummary):
    entries: list[CodeListEntryOut]


class DatasetBody(DatasetIn):
    """A dataset to create or replace. Read-only fields of a fetched record are ignored."""

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        # Lets a client PUT back what it GOT; unknown fields are still errors.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in CKAN_READ_ONLY}
        return data
