"""Response models of the version API, so OpenAPI documents them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class AuthorOut(_Out):
    type: str = Field(description="token, harvest, seed or system")
    ref: str = Field("", description="the token id, harvest job id or seed source id")
    organization: str = Field("", description="the token's organization (name at the time)")


class VersionOut(_Out):
    number: int
    created: str = Field(description="when it was recorded (UTC, ISO 8601 without offset)")
    change: str = Field(description="created, updated, deleted, restored or baseline")
    author: AuthorOut
    summary: dict[str, Any] = Field(
        description="changed field names and counts of distributions added, removed, changed"
    )


class VersionList(_Out):
    dataset: str
    total: int
    items: list[VersionOut]


class VersionDetail(VersionOut):
    dataset: dict[str, Any] = Field(description="the package dict as it was in this version")


class FieldChange(_Out):
    field: str
    before: Any = None
    after: Any = None


class ResourceChange(_Out):
    id: str
    name: str = ""
    fields: list[FieldChange]


class ResourceChanges(_Out):
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[ResourceChange]


class DiffOut(_Out):
    from_: VersionOut = Field(alias="from")
    to: VersionOut
    fields: list[FieldChange]
    resources: ResourceChanges
