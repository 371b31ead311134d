"""Input models of the catalog, with CKAN field names (the CKAN API and REST API share them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from tsunagu.kernel import InputModel

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,99}$")]
ShortText = Annotated[str, StringConstraints(max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=100_000)]
# Schemes that run code or carry a document when a browser follows the link (the site renders
# URLs as links). Browsers drop ASCII whitespace and control characters anywhere in a scheme
# ("java\tscript:"), so they are dropped before comparing. Other schemes stay allowed: real
# catalogs hold ftp:, mailto: and scheme-less URLs.
_ACTIVE_SCHEMES = ("javascript:", "vbscript:", "data:")


def _not_active(value: str | None) -> str | None:
    if value:
        bare = "".join(c for c in value if c > " " and c != "\x7f").lower()
        if bare.startswith(_ACTIVE_SCHEMES):
            raise ValueError(f"a {bare.split(':')[0]}: URL is not allowed (http(s), ftp, ...)")
    return value


Url = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_not_active)]

# Read-only fields CKAN clients send back when they round-trip package_show into package_update.
CKAN_READ_ONLY = frozenset(
    {
        "id", "type", "state", "metadata_created", "metadata_modified", "num_resources",
        "num_tags", "organization", "creator_user_id", "revision_id", "isopen", "license_title",
        "license_url", "relationships_as_object", "relationships_as_subject", "tracking_summary",
        "package_id", "position", "created", "last_modified", "cache_url", "datastore_active",
        "resource_type", "url_type", "display_name", "title_string", "source", "spatial",
        "data_services", "attribution", "cache_last_updated", "mimetype_inner",
    }
)  # fmt: skip


class _Strict(InputModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def from_ckan(cls, data: dict[str, Any]) -> Any:
        """Validate a CKAN dict, ignoring read-only fields; unknown fields are errors."""
        return cls.model_validate({k: v for k, v in data.items() if k not in CKAN_READ_ONLY})


class TagIn(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    display_name: str | None = None
    id: str | None = None
    state: str | None = None
    vocabulary_id: str | None = None


class GroupRef(_Strict):
    name: Name
    id: str | None = None
    title: str | None = None
    display_name: str | None = None
    description: str | None = None
    image_display_url: str | None = None


class ExtraIn(_Strict):
    key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    value: Annotated[str, StringConstraints(max_length=10_000)] = ""


class DataElementIn(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    label_ja: Annotated[str, StringConstraints(max_length=300)] = ""
    definition: LongText = ""
    data_type: Annotated[str, StringConstraints(max_length=50)] = "string"
    unit: Annotated[str, StringConstraints(max_length=50)] = ""
    pattern: ShortText = ""
    required: bool = False
    code_list: Annotated[str, StringConstraints(max_length=100)] = ""


class ResourceIn(_Strict):
    id: Annotated[str, StringConstraints(min_length=1, max_length=36)] | None = None
    name: ShortText = ""
    description: LongText = ""
    url: Url = ""
    download_url: Url = ""
    format: Annotated[str, StringConstraints(max_length=100)] = ""
    mimetype: Annotated[str, StringConstraints(max_length=200)] | None = None
    size: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None  # BIGINT
    hash: Annotated[str, StringConstraints(max_length=200)] = ""
    hash_algorithm: Annotated[str, StringConstraints(max_length=50)] = ""
    language: Annotated[str, StringConstraints(max_length=20)] = ""
    created: datetime | None = None
    last_modified: datetime | None = None
    data_dictionary: list[DataElementIn] = Field(default_factory=list, max_length=1000)

    @classmethod
    def from_ckan(cls, data: dict[str, Any]) -> ResourceIn:
        cleaned = {k: v for k, v in data.items() if k not in CKAN_READ_ONLY - {"id"}}
        for key in ("mimetype", "mimetype_inner"):
            if cleaned.get(key) == "":
                cleaned[key] = None
        cleaned.pop("mimetype_inner", None)
        if cleaned.get("id") == "":
            cleaned["id"] = None  # some clients send an empty id for a new resource
        if cleaned.get("size") in ("", None):
            cleaned["size"] = None
        return cls.model_validate(cleaned)


class DatasetIn(_Strict):
    name: Name
    title: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    title_en: ShortText = ""
    notes: LongText | None = ""
    notes_en: LongText = ""
    owner_org: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    license_id: Annotated[str, StringConstraints(max_length=100)] | None = None
    url: Url | None = ""
    version: Annotated[str, StringConstraints(max_length=100)] | None = ""
    author: Annotated[str, StringConstraints(max_length=300)] | None = ""
    author_email: Annotated[str, StringConstraints(max_length=300)] | None = ""
    maintainer: Annotated[str, StringConstraints(max_length=300)] | None = ""
    maintainer_email: Annotated[str, StringConstraints(max_length=300)] | None = ""
    frequency: Annotated[str, StringConstraints(max_length=100)] = ""
    temporal_start: date | None = None
    temporal_end: date | None = None
    issued: datetime | None = None
    modified: datetime | None = None
    private: bool = False
    tags: list[TagIn] = Field(default_factory=list, max_length=200)
    groups: list[GroupRef] = Field(default_factory=list, max_length=50)
    municipalities: list[Annotated[str, StringConstraints(pattern=r"^\d{6}$")]] = Field(
        default_factory=list, max_length=2000
    )
    resources: list[ResourceIn] = Field(default_factory=list, max_length=2000)
    extras: list[ExtraIn] = Field(default_factory=list, max_length=200)

    @field_validator("resources", mode="before")
    @classmethod
    def _resources(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [ResourceIn.from_ckan(r) if isinstance(r, dict) else r for r in value]
        return value

    @field_validator("notes", "url", "version", "author", "author_email", "maintainer",
                     "maintainer_email", mode="after")  # fmt: skip
    @classmethod
    def _none_is_empty(cls, value: str | None) -> str:
        return value or ""
