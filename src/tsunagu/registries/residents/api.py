"""REST API of the resident registry at ``/api/v1/residents/{lg_code}/...`` — staff only.

Every route needs an API token of the municipality's own organization (its ``lg_code``): no
token is 401, another organization's token is 403, a resident of another municipality is 404.
Every read is recorded as a ``resident.access.read`` event (:func:`.services.record_access`).
The individual number is never returned; a lookup by it is a POST with the number in the body.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller, get_organization
from tsunagu.http import MAX_OFFSET, get_session, rate_limit, require_caller
from tsunagu.http.openapi import BUSY, PROBLEM
from tsunagu.kernel import Forbidden, NotFound

from . import schemas, services
from .models import ResidentVersion

router = APIRouter(prefix="/api/v1/residents", tags=["Resident registry (住民基本台帳)"])
SessionDep = Annotated[Session, Depends(get_session)]
# Every route, reads too, writes an access record: a busy database is 503 (BUSY) for all.
ERRORS: dict[int | str, dict[str, Any]] = {
    **dict.fromkeys((401, 403, 404, 409, 422, 429), PROBLEM),
    503: BUSY,
}
AsOf = Annotated[str | None, Query(description="The record on this date, YYYY-MM-DD")]


def staff(
    lg_code: str, session: SessionDep, caller: Annotated[Caller, Depends(require_caller)]
) -> Caller:
    """The caller, if its organization is the municipality ``lg_code`` (401, 403)."""
    organization = get_organization(session, caller.organization_name)
    if organization.lg_code is None or organization.lg_code != lg_code:
        raise Forbidden(f"only the staff of municipality {lg_code} may read its residents")
    return caller


StaffDep = Annotated[Caller, Depends(staff)]


def _when(value: str | None) -> date | None:
    return services.parse_date(value, "as_of") if value else None


def _read(session: Session, caller: Caller, lg_code: str, action: str,
          rows: list[ResidentVersion]) -> None:  # fmt: skip
    services.record_access(session, organization=caller.organization_name, lg_code=lg_code,
                           action=action,
                           resident_ids=sorted({r.resident_id for r in rows}))  # fmt: skip
    session.commit()


@router.get("/{lg_code}/persons", summary="Search residents by name or kana", responses=ERRORS,
            dependencies=[Depends(rate_limit("search"))])  # fmt: skip
def search_residents(
    lg_code: str, caller: StaffDep, session: SessionDep,
    name: Annotated[str, Query(max_length=100, description="Part of 氏名")] = "",
    kana: Annotated[str, Query(max_length=200, description="Part of the フリガナ")] = "",
    as_of: AsOf = None,
    include_former: Annotated[bool, Query(description="Also moved out and deceased")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:  # fmt: skip
    """Residents of the municipality whose name or kana contains the terms, paged."""
    total, rows = services.search(session, lg_code, name=name, kana=kana, when=_when(as_of),
                                  include_former=include_former, limit=limit,
                                  offset=offset)  # fmt: skip
    _read(session, caller, lg_code, "search", rows)
    return {"total": total, "offset": offset, "limit": limit,
            "items": [services.record_dict(r) for r in rows]}  # fmt: skip


@router.post("/{lg_code}/persons", status_code=201, summary="Register a move in or a birth",
             responses=ERRORS, dependencies=[Depends(rate_limit("write"))])  # fmt: skip
def move_in(lg_code: str, body: schemas.MoveIn, caller: StaffDep,
            session: SessionDep) -> dict[str, Any]:  # fmt: skip
    """転入 or 出生: a new resident; the answer is its first version (without the number)."""
    person = services.NewResident(
        name=body.name.to_name(), birth_date=services.parse_date(body.birth_date, "birth_date"),
        sex=body.sex, individual_number=body.individual_number, address=body.address.to_input(),
        moved_in_on=services.parse_date(body.moved_in_on, "moved_in_on"),
        moved_from=body.moved_from, household_id=body.household_id,
        relationship=body.relationship,
    )  # fmt: skip
    version = services.move_in(session, lg_code, person)
    session.commit()
    return services.record_dict(version)


@router.post("/{lg_code}/lookup", summary="Find a resident by individual number",
             responses=ERRORS)  # fmt: skip
def lookup(lg_code: str, body: schemas.Lookup, caller: StaffDep,
           session: SessionDep) -> dict[str, Any]:  # fmt: skip
    """The resident holding the individual number given in the body (never in the URL)."""
    version = services.find_by_individual_number(session, lg_code, body.individual_number)
    _read(session, caller, lg_code, "lookup_by_individual_number", [version])
    return services.record_dict(version)


@router.get("/{lg_code}/persons/{resident_id}", summary="A resident now or as of a date",
            responses=ERRORS)  # fmt: skip
def show_resident(lg_code: str, resident_id: str, caller: StaffDep, session: SessionDep,
                  as_of: AsOf = None) -> dict[str, Any]:  # fmt: skip
    """The version of the resident's record in force now (or on ``as_of``)."""
    version = services.as_of(session, lg_code, resident_id, _when(as_of))
    _read(session, caller, lg_code, "read", [version])
    return services.record_dict(version)


@router.get("/{lg_code}/persons/{resident_id}/history", summary="A resident's every version",
            responses=ERRORS)  # fmt: skip
def resident_history(lg_code: str, resident_id: str, caller: StaffDep,
                     session: SessionDep) -> dict[str, Any]:  # fmt: skip
    """Every version of the record, oldest first."""
    rows = services.history(session, lg_code, resident_id)
    _read(session, caller, lg_code, "history", rows)
    return {"resident_id": resident_id, "history": [services.record_dict(r) for r in rows]}


@router.get("/{lg_code}/households/{household_id}", summary="A household's members",
            responses=ERRORS)  # fmt: skip
def show_household(lg_code: str, household_id: str, caller: StaffDep, session: SessionDep,
                   as_of: AsOf = None) -> dict[str, Any]:  # fmt: skip
    """The residents of a 世帯 now (or on ``as_of``), head first."""
    when = _when(as_of)
    rows = services.household_members(session, lg_code, household_id, when)
    if not rows:
        raise NotFound(f"no household {household_id} in {lg_code}")
    _read(session, caller, lg_code, "household", rows)
    return {"household_id": household_id, "as_of": when.isoformat() if when else None,
            "members": [services.record_dict(r) for r in rows]}  # fmt: skip


def _change(session: Session, version: ResidentVersion) -> dict[str, Any]:
    session.commit()
    return services.record_dict(version)


WRITE: dict[str, Any] = {"responses": ERRORS, "dependencies": [Depends(rate_limit("write"))]}


@router.post("/{lg_code}/persons/{resident_id}/move-out", summary="Record a move out", **WRITE)
def move_out(lg_code: str, resident_id: str, body: schemas.MoveOut, caller: StaffDep,
             session: SessionDep) -> dict[str, Any]:  # fmt: skip
    """転出: the record stays, as a 除票."""
    on = services.parse_date(body.moved_out_on, "moved_out_on")
    return _change(session, services.move_out(session, lg_code, resident_id, on, body.moved_to))


@router.post("/{lg_code}/persons/{resident_id}/address", summary="Record a move within",
             **WRITE)  # fmt: skip
def change_address(lg_code: str, resident_id: str, body: schemas.AddressChange,
                   caller: StaffDep, session: SessionDep) -> dict[str, Any]:  # fmt: skip
    """転居: a new address in the municipality, optionally into another household."""
    on = services.parse_date(body.changed_on, "changed_on")
    return _change(session, services.change_address(
        session, lg_code, resident_id, on, body.address.to_input(),
        household_id=body.household_id, relationship=body.relationship))  # fmt: skip


@router.post("/{lg_code}/persons/{resident_id}/name", summary="Record a change of name",
             **WRITE)  # fmt: skip
def change_name(lg_code: str, resident_id: str, body: schemas.NameChange, caller: StaffDep,
                session: SessionDep) -> dict[str, Any]:  # fmt: skip
    """氏名の変更."""
    on = services.parse_date(body.changed_on, "changed_on")
    return _change(session, services.change_name(session, lg_code, resident_id, on,
                                                 body.name.to_name()))  # fmt: skip


@router.post("/{lg_code}/persons/{resident_id}/death", summary="Record a death", **WRITE)
def record_death(lg_code: str, resident_id: str, body: schemas.Death, caller: StaffDep,
                 session: SessionDep) -> dict[str, Any]:  # fmt: skip
    """死亡: the record stays, as a 除票."""
    on = services.parse_date(body.died_on, "died_on")
    return _change(session, services.record_death(session, lg_code, resident_id, on))
