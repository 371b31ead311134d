"""REST API of the address registry under ``/api/v1/address``: thin routes over the services.

Every route takes ``as_of=YYYY-MM-DD`` (default today) and answers with the rows in force on
that date. Errors are RFC 9457 problem+json.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from tsunagu.http import get_session, rate_limit
from tsunagu.kernel import ValidationProblem

from . import services
from .reading import today
from .schemas import (
    AreaList,
    AreaOut,
    ChildPage,
    PostalOut,
    TownOut,
    TownPage,
    area_out,
    postal_candidate,
    town_out,
)


def _reject_nul(request: Request) -> None:
    # PostgreSQL cannot compare text with NUL; answer 422 instead of failing in the database.
    values = [request.url.path, *request.path_params.values(), *request.query_params.values()]
    if any("\x00" in str(v) for v in values):
        raise ValidationProblem("the request URL contains a NUL character")


router = APIRouter(
    prefix="/api/v1/address", tags=["Address registry"], dependencies=[Depends(_reject_nul)]
)

SessionDep = Annotated[Session, Depends(get_session)]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _iso_date(value: Any) -> Any:
    """Only ``YYYY-MM-DD``: pydantic alone would also take ``0`` or ``86400`` as a Unix time."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("as_of must be a date, YYYY-MM-DD")
    return value


AsOf = Annotated[
    date | None,
    BeforeValidator(_iso_date),
    Query(description="Answer as of this date (YYYY-MM-DD); default today"),
]
# Six digits with a check digit, checked by services.check_lg_code (with its own message).
LG_CODE = {"pattern": "^[0-9]{6}$"}
LgCode = Annotated[str, Path(description="全国地方公共団体コード (6 digits)", max_length=20,
                             json_schema_extra=LG_CODE)]  # fmt: skip
Limit = Annotated[int, Query(ge=1, le=services.MAX_PAGE, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip")]
PROBLEM = {"description": "Problem (RFC 9457)", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 422: PROBLEM, 429: PROBLEM}


@router.get("/prefectures", response_model=AreaList, responses=ERRORS,
            summary="All prefectures (都道府県)")  # fmt: skip
def prefectures(session: SessionDep, as_of: AsOf = None) -> AreaList:
    """The 47 prefectures of ABR's mt_pref with their positions."""
    rows = services.list_prefectures(session, as_of)
    return AreaList(items=[area_out(r) for r in rows], as_of=as_of or today())


@router.get("/lg/{lg_code}", response_model=AreaOut, responses=ERRORS,
            summary="A prefecture or municipality by lg_code")  # fmt: skip
def area(lg_code: LgCode, session: SessionDep, as_of: AsOf = None) -> AreaOut:
    """都道府県 (code ``NN000C``) or 市区町村 (incl. 政令市の区) by 全国地方公共団体コード."""
    return area_out(services.get_area(session, lg_code, as_of))


@router.get("/lg/{lg_code}/children", response_model=ChildPage, responses=ERRORS,
            summary="A prefecture's municipalities or a municipality's 町字")  # fmt: skip
def area_children(
    lg_code: LgCode, session: SessionDep, as_of: AsOf = None, limit: Limit = 100,
    offset: Offset = 0,
) -> ChildPage:  # fmt: skip
    """A prefecture's municipalities, or a municipality's 町字 ordered by 町字ID."""
    level, rows, total = services.children(session, lg_code, as_of, limit, offset)
    convert = area_out if level == "municipality" else town_out
    return ChildPage(
        level=level, items=[convert(r) for r in rows], total=total, limit=limit,
        offset=offset, as_of=as_of or today(),
    )  # fmt: skip


@router.get("/lg/{lg_code}/towns/{machiaza_id}", response_model=TownOut, responses=ERRORS,
            summary="A 町字 by lg_code and 町字ID")  # fmt: skip
def town(
    lg_code: LgCode,
    machiaza_id: Annotated[
        str,
        Path(
            description="町字ID (7 digits)",
            max_length=20,
            json_schema_extra={"pattern": "^[0-9]{7}$"},
        ),
    ],
    session: SessionDep,
    as_of: AsOf = None,
) -> TownOut:
    """One 町字 with its position and postal codes."""
    return town_out(services.get_town(session, lg_code, machiaza_id, as_of))


@router.get("/postal/{postal_code}", response_model=PostalOut, responses=ERRORS,
            summary="Towns of a postal code (郵便番号)")  # fmt: skip
def postal_code(
    postal_code: Annotated[str, Path(description="7 digits, hyphen allowed", max_length=20)],
    session: SessionDep,
    as_of: AsOf = None,
) -> PostalOut:
    """Japan Post's records of the code, each matched to an ABR municipality and 町字."""
    found = services.by_postal_code(session, postal_code, as_of)
    return PostalOut(
        postal_code=found["postal_code"],
        candidates=[postal_candidate(c) for c in found["candidates"]],
        as_of=as_of or today(),
    )


@router.get("/search", response_model=TownPage, responses=ERRORS,
            summary="Search 町字 by name or kana (paged)",
            dependencies=[Depends(rate_limit("search"))])  # fmt: skip
def search(
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Name or kana part")],
    lg_code: Annotated[
        str | None,
        Query(
            max_length=20,
            description="Only in this prefecture/municipality",
            json_schema_extra=LG_CODE,
        ),
    ] = None,
    as_of: AsOf = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> TownPage:
    """町字 whose 大字・町+丁目+小字 or their kana contain ``q``, shortest names first."""
    rows, total = services.search_towns(session, q, lg_code, as_of, limit, offset)
    return TownPage(
        items=[town_out(r) for r in rows], total=total, limit=limit, offset=offset,
        as_of=as_of or today(),
    )  # fmt: skip
