"""REST API of the laws registry at ``/api/v1/laws``; errors are problem+json."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from tsunagu.http import MAX_OFFSET, get_session, rate_limit
from tsunagu.kernel import ValidationProblem, parse_iso_date

from . import document, services
from .importer import LAW_ID_RE
from .models import LawArticle, LawRevision


def _reject_nul(request: Request) -> None:
    # PostgreSQL cannot compare text with NUL; answer 422 instead of failing in the database.
    if "\x00" in request.url.path or any("\x00" in v for v in request.query_params.values()):
        raise ValidationProblem("the request URL contains a NUL character")


router = APIRouter(prefix="/api/v1/laws", tags=["Laws (法令)"], dependencies=[Depends(_reject_nul)])
SessionDep = Annotated[Session, Depends(get_session)]
PROBLEM = {"description": "Problem (RFC 9457)", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 422: PROBLEM, 429: PROBLEM}
AsOf = Annotated[str | None, Query(description="The revision in force on this date")]
# The pattern the code checks itself (services.get_law, with its own message), for the document.
LawId = Annotated[
    str,
    Path(
        description="e-Gov law id, e.g. 415AC0000000057",
        json_schema_extra={"pattern": f"^(?:{LAW_ID_RE.pattern})$"},
    ),
]


def _date(value: str | None) -> date | None:
    if not value:
        return None
    return parse_iso_date(value, "as_of")


def _revision(rev: LawRevision) -> dict[str, Any]:
    return {
        "revision_id": rev.revision_id, "title": rev.title, "title_kana": rev.title_kana,
        "abbrev": rev.abbrev, "category": rev.category,
        "enforcement_date": rev.enforcement_date.isoformat() if rev.enforcement_date else None,
        "amendment_law_id": rev.amendment_law_id, "amendment_law_title": rev.amendment_law_title,
        "repeal_status": rev.repeal_status, "status": rev.status, "has_body": rev.has_body,
    }  # fmt: skip


def _unit(law_id: str, unit: LawArticle) -> dict[str, Any]:
    return {"id": f"{law_id}/{unit.path}", "path": unit.path, "kind": unit.kind,
            "caption": unit.caption, "title": unit.title, "text": unit.text}  # fmt: skip


@router.get("", summary="Search laws by title and keyword", responses=ERRORS,
            dependencies=[Depends(rate_limit("search"))])  # fmt: skip
def search_laws(
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words (all must match)")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Laws whose title or text contains every word, with the first matching units."""
    total, rows = services.search(session, q, limit=limit, offset=offset)
    return {"total": total, "offset": offset, "limit": limit, "items": [
        {"law_id": rev.law_id, **_revision(rev), "matches": [_unit(rev.law_id, u) for u in hits]}
        for rev, hits in rows
    ]}  # fmt: skip


@router.get("/{law_id}", summary="A law as of a date", responses={
    200: {"content": {"application/json": {}, "application/xml": {"schema": {"type": "string"}}}},
    **ERRORS,
})  # fmt: skip
def show_law(
    request: Request, session: SessionDep, law_id: LawId, as_of: AsOf = None,
    format: Annotated[str | None, Query(description="json or xml (法令標準XML)",
                                        json_schema_extra={"enum": ["json", "xml"]})] = None,
) -> Any:  # fmt: skip
    """A law with the revision in force (``as_of``), its revisions and its articles."""
    law = services.get_law(session, law_id)
    rev = services.revision_as_of(session, law_id, _date(as_of))
    if format not in (None, "json", "xml"):
        raise ValidationProblem("format must be json or xml", field="format")
    if format == "xml":
        if rev.body is None:
            raise ValidationProblem(
                f"revision {rev.revision_id} has no text stored", field="format"
            )
        return Response(document.to_xml(rev.body), media_type="application/xml")
    articles = session.query(LawArticle).filter(
        LawArticle.revision_id == rev.revision_id, LawArticle.kind == "article"
    ).order_by(LawArticle.position)  # fmt: skip
    return {
        "law_id": law.law_id, "law_type": law.law_type, "law_num": law.law_num,
        "promulgation_date": law.promulgation_date.isoformat() if law.promulgation_date else None,
        "revision": _revision(rev),
        "revisions": [_revision(r) for r in services.revisions(session, law_id)],
        "articles": [{"id": f"{law_id}/{a.path}", "path": a.path, "caption": a.caption,
                      "title": a.title} for a in articles],
    }  # fmt: skip


@router.get("/{law_id}/articles/{article}", summary="An article, paragraph or item",
            responses=ERRORS)  # fmt: skip
def show_article(
    session: SessionDep, law_id: LawId, article: str, as_of: AsOf = None,
    paragraph: Annotated[str | None, Query(description="Paragraph number (項)")] = None,
    item: Annotated[str | None, Query(description="Item number (号)")] = None,
) -> dict[str, Any]:  # fmt: skip
    """A unit by address: article 27, ``?paragraph=1&item=2``; ids like ``{law}/article/27/...``."""
    services.get_law(session, law_id)
    path = services.unit_path(article, paragraph, item)
    rev = services.revision_as_of(session, law_id, _date(as_of))
    unit = services.get_unit(session, rev, path)
    return {"law_id": law_id, "revision_id": rev.revision_id, "law_title": rev.title,
            **_unit(law_id, unit),
            "children": [_unit(law_id, c) for c in services.children(session, unit)]}  # fmt: skip
