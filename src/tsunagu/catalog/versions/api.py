"""REST API of dataset versions at ``/api/v1/datasets/{name}/versions``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller
from tsunagu.http import MAX_OFFSET, get_caller, get_session

from .schemas import DiffOut, VersionDetail, VersionList
from .services import (
    MAX_PAGE,
    compare,
    get_version,
    list_versions,
    parse_as_of,
    parse_number,
    version_as_of,
    version_meta,
)

router = APIRouter(prefix="/api/v1/datasets/{name}/versions", tags=["Versions"])
SessionDep = Annotated[Session, Depends(get_session)]
CallerDep = Annotated[Caller | None, Depends(get_caller)]
PROBLEM = {"description": "Problem (RFC 9457)", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {400: PROBLEM, 404: PROBLEM, 422: PROBLEM}


# A version number as parse_number takes it (a 400 otherwise), for the document.
VersionNumber = Annotated[
    str, Path(description="1, 2, …", json_schema_extra={"pattern": "^[0-9]{1,9}$"})
]


def _detail(version: Any) -> dict[str, Any]:
    return {**version_meta(version), "dataset": version.snapshot}


@router.get("", response_model=VersionList, summary="Versions of a dataset", responses=ERRORS)
def versions(
    name: str,
    session: SessionDep,
    caller: CallerDep,
    # Checked by list_versions (422 with its own message), documented here.
    limit: Annotated[
        int,
        Query(
            description=f"1 to {MAX_PAGE}", json_schema_extra={"minimum": 1, "maximum": MAX_PAGE}
        ),
    ] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Every recorded version, newest first, with author, time and change summary."""
    page = list_versions(session, name, caller, limit=limit, offset=offset)
    return {
        "dataset": page.dataset.name,
        "total": page.total,
        "items": [version_meta(v) for v in page.versions],
    }


@router.get(
    "/diff", response_model=DiffOut, response_model_by_alias=True, summary="Diff two versions",
    responses=ERRORS,
)  # fmt: skip
def version_diff(
    name: str,
    session: SessionDep,
    caller: CallerDep,
    from_: Annotated[str | None, Query(alias="from", description="default: to − 1")] = None,
    to: Annotated[str | None, Query(description="default: the latest version")] = None,
) -> dict[str, Any]:
    """Field-level changes from one version to another; distributions matched by id."""
    old = parse_number(from_, "from") if from_ not in (None, "") else None
    new = parse_number(to, "to") if to not in (None, "") else None
    before, after, changes = compare(session, name, caller, old, new)
    return {"from": version_meta(before), "to": version_meta(after), **changes}


@router.get(
    "/as-of", response_model=VersionDetail, summary="A dataset as of a date", responses=ERRORS
)
def version_at(
    name: str,
    session: SessionDep,
    caller: CallerDep,
    date: Annotated[str, Query(description="YYYY-MM-DD (end of day, UTC) or ISO 8601")],
) -> dict[str, Any]:
    """The version that was current at that time, with the dataset as it was."""
    return _detail(version_as_of(session, name, parse_as_of(date, "date"), caller))


@router.get(
    "/{number}", response_model=VersionDetail, summary="One version of a dataset", responses=ERRORS
)
def version(name: str, number: VersionNumber, session: SessionDep,
            caller: CallerDep) -> dict[str, Any]:  # fmt: skip
    """A version with the dataset (package dict) as it was then."""
    return _detail(get_version(session, name, parse_number(number, "number"), caller))
