"""REST API of the corporate registry at ``/api/v1/corporations``: JSON, NTA CSV and XML.

The NTA serves CSV and XML only (Web-API Ver.4); we add JSON. ``?format=csv|xml|json`` or the
``Accept`` header (``text/csv``, ``application/xml``) picks the form. Errors are problem+json.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from tsunagu.http import MAX_OFFSET, get_session, rate_limit
from tsunagu.kernel import ValidationProblem, parse_iso_date

from . import nta, services
from .models import CorporationRecord


def _reject_nul(request: Request) -> None:
    # PostgreSQL cannot compare text with NUL; answer 422 instead of failing in the database.
    if "\x00" in request.url.path or any("\x00" in v for v in request.query_params.values()):
        raise ValidationProblem("the request URL contains a NUL character")


router = APIRouter(
    prefix="/api/v1/corporations",
    tags=["Corporate registry (法人番号)"],
    dependencies=[Depends(_reject_nul)],
)
SessionDep = Annotated[Session, Depends(get_session)]
PROBLEM = {"description": "Problem (RFC 9457)", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 422: PROBLEM, 429: PROBLEM}
# ``format`` (or Accept) picks JSON, the NTA's CSV layout or its XML.
TEXT = {"schema": {"type": "string"}}
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": TEXT, "application/xml": TEXT}},
    **ERRORS,
}
# The enums and patterns the code checks itself (with its own messages), for the document.
FormatQuery = Annotated[
    str | None,
    Query(
        description="json, csv (NTA layout) or xml",
        json_schema_extra={"enum": ["json", "csv", "xml"]},
    ),
]
MatchQuery = Annotated[
    str,
    Query(
        description="prefix (indexed) or contains",
        json_schema_extra={"enum": ["prefix", "contains"]},
    ),
]
NumberPath = Annotated[
    str,
    Path(
        description="法人番号: 13 digits, the first a check digit",
        json_schema_extra={"pattern": "^[0-9]{13}$"},
    ),
]


def _format(request: Request, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in ("json", "csv", "xml"):
            raise ValidationProblem("format must be json, csv or xml", field="format")
        return fmt
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        return "csv"
    if "application/xml" in accept or "text/xml" in accept:
        return "xml"
    return "json"


def _date(value: str | None, field: str) -> date | None:
    if value is None or value == "":
        return None
    return parse_iso_date(value, field)


def _missing(field: str) -> date:
    raise ValidationProblem(f"{field} is required", field=field)


def _render(
    request: Request, fmt: str | None, session: Session, records: Sequence[CorporationRecord],
    total: int, limit: int, offset: int, body: dict[str, Any],
) -> Any:  # fmt: skip
    form = _format(request, fmt)
    if form == "json":
        return body
    header = nta.Header(
        last_update_date=services.last_update(session), count=total,
        divide_number=offset // limit + 1 if limit else 1,
        divide_size=max(1, math.ceil(total / limit)) if limit else 1,
    )  # fmt: skip
    rows = [services.record_dict(r) for r in records]
    if form == "csv":
        return Response(nta.write_csv(rows, header), media_type="text/csv; charset=utf-8")
    return Response(nta.write_xml(rows, header), media_type="application/xml")


def _json(rec: CorporationRecord) -> dict[str, Any]:
    out = services.record_dict(rec)
    for key, value in out.items():
        if isinstance(value, date):
            out[key] = value.isoformat()
    out["process_name"] = nta.PROCESSES[rec.process]
    return out


@router.get("", summary="Find corporations by name", responses=ANSWERS,
            dependencies=[Depends(rate_limit("search"))])  # fmt: skip
def find_by_name(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Query(min_length=1, max_length=300, description="商号又は名称")],
    match: MatchQuery = "prefix",
    include_closed: Annotated[bool, Query(description="Include closed corporations")] = True,
    limit: Annotated[int, Query(ge=1, le=services.MAX_ROWS)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    format: FormatQuery = None,
) -> Any:
    """Current corporations by normalized name (width, kana, 株式会社/(株) anywhere ignored).

    ``total`` counts at most 10,000 matches; ``total_capped`` is true when more match.
    """
    found = services.search_by_name(session, name, match=match,
                                    include_closed=include_closed, limit=limit,
                                    offset=offset)  # fmt: skip
    total, rows = found.total, found.rows
    # total stops at services.COUNT_CAP; total_capped says more corporations match.
    body = {"total": total, "total_capped": found.total_capped, "offset": offset,
            "limit": limit, "items": [_json(r) for r in rows]}  # fmt: skip
    return _render(request, format, session, rows, total, limit, offset, body)


@router.get("/diff", summary="Rows updated in a period (差分)", responses=ANSWERS)
def changed_between(
    request: Request,
    session: SessionDep,
    from_: Annotated[str, Query(alias="from", description="First update date YYYY-MM-DD")],
    to: Annotated[str, Query(description="Last update date YYYY-MM-DD")],
    limit: Annotated[int, Query(ge=1, le=services.MAX_ROWS)] = services.MAX_ROWS,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    format: FormatQuery = None,
) -> Any:
    """Every stored row whose 更新年月日 is within ``from``..``to``, as the NTA 差分 API."""
    start, end = _date(from_, "from") or _missing("from"), _date(to, "to") or _missing("to")
    total, rows = services.diff(session, start, end, limit=limit, offset=offset)
    body = {"total": total, "offset": offset, "limit": limit, "items": [_json(r) for r in rows]}
    return _render(request, format, session, rows, total, limit, offset, body)


@router.get("/{number}", summary="A corporation by number", responses=ANSWERS)
def show_corporation(
    request: Request,
    session: SessionDep,
    number: NumberPath,
    history: Annotated[bool, Query(description="Every stored row, oldest first")] = False,
    as_of: Annotated[str | None, Query(description="The record on this date")] = None,
    format: FormatQuery = None,
) -> Any:
    """A corporation's record now or ``as_of`` a date; with ``history=1`` its whole history."""
    when = _date(as_of, "as_of")
    if history:
        rows = list(services.history(session, number))
        if when is not None:
            rows = [r for r in rows if r.change_date <= when]
        body = {"corporate_number": number, "history": [_json(r) for r in rows]}
    else:
        rows = [services.as_of(session, number, when)]
        body = _json(rows[0])
    return _render(request, format, session, rows, len(rows), services.MAX_ROWS, 0, body)
