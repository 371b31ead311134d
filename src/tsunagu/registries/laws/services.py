"""Reading laws: by id as of a date, units by address, and search by title and keyword.

Search is a LIKE over folded text (NFKC, no whitespace; see :func:`document.fold`): every word
of the query must occur in the title, abbreviation or kana title of the revision in force, or in
one of its units' text. No index serves ``%word%``; the law corpus is small (about 9,000 laws),
so a scan is acceptable — a tokenized index would be the next step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from tsunagu.kernel import NotFound, ValidationProblem

from . import document
from .importer import LAW_ID_RE
from .models import Law, LawArticle, LawRevision


def get_law(session: Session, law_id: str) -> Law:
    if not LAW_ID_RE.fullmatch(law_id):
        raise ValidationProblem(f"{law_id!r} is not an e-Gov law id (e.g. 415AC0000000057)",
                                field="law_id")  # fmt: skip
    law = session.get(Law, law_id)
    if law is None:
        raise NotFound(f"no law with id {law_id} is registered")
    return law


def revisions(session: Session, law_id: str) -> Sequence[LawRevision]:
    """Every stored revision of a law, oldest enforcement first."""
    get_law(session, law_id)
    return session.scalars(
        select(LawRevision).where(LawRevision.law_id == law_id)
        .order_by(LawRevision.enforcement_date.asc(), LawRevision.revision_id)
    ).all()  # fmt: skip


def revision_as_of(session: Session, law_id: str, when: date | None = None) -> LawRevision:
    """The revision in force on ``when`` (default today); with no dates, the newest stored."""
    all_revisions = revisions(session, law_id)
    when = when or date.today()  # noqa: DTZ011 - a law's dates are Japanese calendar dates
    dated = [r for r in all_revisions if r.enforcement_date and r.enforcement_date <= when]
    if dated:
        with_body = [r for r in dated if r.has_body]
        return (with_body or dated)[-1]
    undated = [r for r in all_revisions if r.enforcement_date is None]
    if undated:
        return undated[-1]
    raise NotFound(f"law {law_id} has no revision in force on {when.isoformat()}")


def unit_path(article: str, paragraph: str | None = None, item: str | None = None) -> str:
    """The address of a unit: ``article/27/paragraph/1/item/2`` (第二条の二 is ``2_2``)."""
    parts = []
    for kind, value in (("article", article), ("paragraph", paragraph), ("item", item)):
        if value is None or value == "":
            continue
        num = value.replace("-", "_").replace("の", "_")
        if not all(p.isdigit() for p in num.split("_")):
            raise ValidationProblem(f"{kind} must be a number such as 27 or 2_2, got {value!r}",
                                    field=kind)  # fmt: skip
        parts.append(f"{kind}/{num}")
    if item and not paragraph:
        parts.insert(1, "paragraph/1")  # an item cited without paragraph is in paragraph 1
    return "/".join(parts)


def get_unit(session: Session, revision: LawRevision, path: str) -> LawArticle:
    unit = session.scalar(
        select(LawArticle).where(LawArticle.revision_id == revision.revision_id,
                                 LawArticle.path == path)
    )  # fmt: skip
    if unit is None:
        raise NotFound(f"{revision.law_id} has no {path} in revision {revision.revision_id}")
    return unit


def children(session: Session, unit: LawArticle) -> Sequence[LawArticle]:
    """The units directly below ``unit``, in order."""
    depth = unit.path.count("/") + 2  # "article/1" → "article/1/paragraph/1"
    rows = session.scalars(
        select(LawArticle).where(LawArticle.revision_id == unit.revision_id,
                                 LawArticle.path.startswith(unit.path + "/", autoescape=True))
        .order_by(LawArticle.position)
    ).all()  # fmt: skip
    return [r for r in rows if r.path.count("/") == depth]


def _like(column: object, word: str) -> object:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%", escape="\\")  # type: ignore[attr-defined]


def search(
    session: Session, q: str, *, limit: int = 20, offset: int = 0
) -> tuple[int, list[tuple[LawRevision, list[LawArticle]]]]:
    """Laws whose newest revision matches every word; with up to 5 matching units each."""
    words = [document.fold(w) for w in q.split() if document.fold(w)]
    if not words:
        raise ValidationProblem("q must contain at least one word", field="q")
    newest = (
        select(LawRevision.law_id, func.max(LawRevision.revision_id).label("rid"))
        .group_by(LawRevision.law_id).subquery()
    )  # fmt: skip
    unit_match = [
        exists().where(LawArticle.revision_id == LawRevision.revision_id,
                       _like(LawArticle.text_key, w))  # type: ignore[arg-type]
        for w in words
    ]  # fmt: skip
    condition = and_(*[or_(_like(LawRevision.title_key, w), u)  # type: ignore[arg-type]
                       for w, u in zip(words, unit_match, strict=True)])  # fmt: skip
    query = (
        select(LawRevision).join(newest, LawRevision.revision_id == newest.c.rid).where(condition)
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(LawRevision.law_id).limit(limit).offset(offset)).all()
    out = []
    for rev in rows:
        hits = session.scalars(
            select(LawArticle).where(LawArticle.revision_id == rev.revision_id,
                                     *[_like(LawArticle.text_key, w) for w in words])  # type: ignore[arg-type]
            .order_by(LawArticle.position).limit(5)
        ).all()  # fmt: skip
        out.append((rev, list(hits)))
    return total, out


def citation(session: Session, law_id: str, path: str) -> str:
    """How well the registry knows a cited unit: ``"unit"`` if its text is stored; ``"law"`` if
    the law is registered but its stored text ends before that article (a partial text, or only
    the law list). NotFound if the law is not registered, or if its text holds the article (or
    later ones) but not the unit — a citation that cannot be right."""
    get_law(session, law_id)
    try:
        revision = revision_as_of(session, law_id)
    except NotFound:
        return "law"
    try:
        get_unit(session, revision, path)
        return "unit"
    except NotFound:
        pass
    article = path.split("/")[1] if path.startswith("article/") else ""
    stored = session.scalars(
        select(LawArticle.path).where(LawArticle.revision_id == revision.revision_id,
                                      LawArticle.kind == "article")
    ).all()  # fmt: skip

    def number(p: str) -> tuple[int, ...]:
        return tuple(int(x) for x in p.split("/")[1].split("_") if x.isdigit())

    if article and stored and max(number(p) for p in stored) < number(path):
        return "law"
    raise NotFound(f"{law_id} has no {path}")
