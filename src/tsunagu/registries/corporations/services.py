"""Reading the corporate registry: by number (now, as of a date, with history), name and period."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Select, Subquery, and_, func, literal, literal_column, select, union
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from tsunagu.kernel import NotFound, ValidationProblem, validate_corporate_number

from . import nta
from .models import CorporationRecord
from .normalize import furigana_key, name_key

MAX_ROWS = 2000  # the NTA's own page size for a divided response
_ORDER = (
    (CorporationRecord.source == "nta").asc(),
    CorporationRecord.change_date.asc(),
    CorporationRecord.update_date.asc(),
    CorporationRecord.id.asc(),
)


def record_dict(rec: CorporationRecord) -> dict[str, Any]:
    """A stored row as snake_case attributes (the NTA columns plus ours)."""
    out = {col: getattr(rec, col) for col in nta.COLUMNS.values()}
    out.update(source=rec.source, current=rec.current, lg_code=rec.lg_code,
               machiaza_id=rec.machiaza_id)  # fmt: skip
    return out


def history(session: Session, number: str) -> Sequence[CorporationRecord]:
    """Every stored row of a corporation, oldest change first (ValidationProblem, NotFound)."""
    validate_corporate_number(number)
    rows = session.scalars(
        select(CorporationRecord)
        .where(CorporationRecord.corporate_number == number)
        .order_by(*_ORDER)
    ).all()
    if not rows:
        raise NotFound(f"no corporation with number {number} is registered")
    return rows


def as_of(session: Session, number: str, when: date | None = None) -> CorporationRecord:
    """The row describing a corporation now, or on ``when`` (the last change on or before it)."""
    rows = history(session, number)
    if when is None:
        return next((r for r in rows if r.current), rows[-1])
    before = [r for r in rows if r.change_date <= when]
    if not before:
        raise NotFound(
            f"corporation {number} has no record on {when.isoformat()} "
            f"(its first change is dated {rows[0].change_date.isoformat()})"
        )
    return before[-1]


def _prefix(column: Any, key: str) -> Any:
    # A range on the key uses the index on both SQLite and PostgreSQL (with a C collation);
    # LIKE 'key%' would not on SQLite, whose LIKE folds ASCII case.
    return and_(column >= key, column < key + "\U0010ffff")


COUNT_CAP = 10_000  # a name search counts at most this many matches (``total_capped`` beyond)


class NameSearch(NamedTuple):
    """A page of a name search and how many corporations match (at most ``COUNT_CAP``)."""

    total: int
    rows: Sequence[CorporationRecord]
    total_capped: bool  # more than COUNT_CAP match: ``total`` is COUNT_CAP, a lower bound


def _union(branches: Iterable[Select[*tuple[Any, ...]]]) -> Subquery:
    subqueries = [branch.subquery() for branch in branches]
    if len(subqueries) == 1:
        return subqueries[0]
    return union(*(select(*sub.c) for sub in subqueries)).subquery()


def _by_reading(
    filters: list[Any], reading: Any, count: int, *, sqlite: bool
) -> Select[int, str, str]:
    """The first ``count`` matches of the reading's range in (name key, number) order.

    Its index is in reading order, so every match of the range is read from it and the first
    ``count`` kept by a bounded (top-N) sort. The other way, walking the name index in order
    and filtering each row on its reading, is what PostgreSQL chose whenever it could use that
    index's order; it reads every listed corporation before the first matches, and readings do
    not follow the order of names (Latin and kana names sort first, kanji names by code point):
    at 1,000,000 rows it read 20,000 to 800,000 rows for kana prefixes matching 10,000 or more
    (docs/benchmarks.md). So the sort is on an expression equal to the name key (same value,
    same collation) that no index holds: ``+name_key`` on SQLite, its own idiom for this and
    free; ``name_key || ''`` on PostgreSQL, which has no unary + for text.

    The sort reads nothing but the index where it can. SQLite's indexes hold the rowid, our id.
    PostgreSQL's do not, so it sorts the index's own entries (reading, name key, number), from
    the index alone once VACUUM has set the visibility map, and then finds the listed rows with
    exactly those entries through the name index: ``count`` lookups, however many match.
    """
    record = CorporationRecord
    order = (record.name_key, record.corporate_number)
    if sqlite:
        plus = UnaryExpression[str](record.name_key.expression, operator=operators.custom_op("+"))
        return (
            select(record.id, *order)
            .where(*filters, reading)
            .order_by(plus, record.corporate_number)
            .limit(count)
        )
    by = (record.name_key.op("||")(literal_column("''")), record.corporate_number)
    entries = (*order, record.furigana_key)
    first = select(*entries).where(*filters, reading).order_by(*by).limit(count).subquery()
    same = and_(*(column == first.c[column.key] for column in entries))
    return select(record.id, *order).join(first, same).where(*filters)


def _listed() -> tuple[Any, Any]:
    # Spelled as the partial indexes' WHERE (models.SEARCHABLE), so both databases use them.
    return CorporationRecord.current.is_(True), CorporationRecord.hihyoji.is_(False)


def search_by_name(
    session: Session,
    name: str,
    *,
    match: str = "prefix",
    include_closed: bool = True,
    limit: int = 100,
    offset: int = 0,
) -> NameSearch:
    """Current corporations whose normalized name (or reading) starts with / contains ``name``.

    Rows the NTA marks 検索対象除外 (``hihyoji``) are left out, as on the NTA's own site.
    Ordered by name key, then number. The count stops at ``COUNT_CAP``: a one-word prefix
    can match hundreds of thousands of corporations, and counting them all costs seconds.
    """
    key = name_key(name)
    if not key:
        raise ValidationProblem("name must contain at least one letter", field="name")
    if match not in ("prefix", "contains"):
        raise ValidationProblem("match must be prefix or contains", field="match")
    if limit < 1 or offset < 0:
        raise ValidationProblem("limit must be at least 1 and offset not negative", field="limit")
    kana = furigana_key(name)
    record = CorporationRecord
    filters = [*_listed()]
    if not include_closed:
        filters.append(record.close_date.is_(None))
    if match == "prefix":
        # One limited read per key (partial indexes on name_key / furigana_key) joined by
        # UNION: an OR of the two ranges can use no index's order, so the database would read
        # and sort every match before taking a page. The name range is read in (key, number)
        # order and stops after offset + limit; the reading range as _by_reading says. An
        # empty reading key matches nothing (a range from "" would match every row).
        conditions = [_prefix(record.name_key, key)]
        if kana:  # spelled as the reading index's WHERE, a literal, so SQLite uses it
            reading = record.furigana_key != literal_column("''")
            conditions.append(and_(reading, _prefix(record.furigana_key, kana)))
    else:
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions = [record.name_key.like(f"%{escaped}%", escape="\\")]
    order = (record.name_key, record.corporate_number)
    first = offset + limit
    by_name = select(record.id, *order).where(*filters, conditions[0]).order_by(*order)
    # Each branch in a subquery of its own: SQLite allows no LIMIT on a member of a UNION.
    sqlite = session.get_bind().dialect.name == "sqlite"
    by_reading = [_by_reading(filters, c, first, sqlite=sqlite) for c in conditions[1:]]
    page = _union([by_name.limit(first), *by_reading])
    ids = (
        select(page.c.id)
        .order_by(page.c.name_key, page.c.corporate_number)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    rows = session.scalars(select(record).join(ids, record.id == ids.c.id).order_by(*order)).all()
    # The count: at most COUNT_CAP + 1 matches of each range, a corporation matching both
    # counted in the first only. Nothing but the condition is read, so a partial index alone
    # can answer (SQLite; PostgreSQL where its visibility map allows).
    total = 0
    for i, cond in enumerate(conditions):
        only = [~c for c in conditions[:i]]
        capped = select(literal(1)).where(*filters, cond, *only).limit(COUNT_CAP + 1)
        total += session.scalar(select(func.count()).select_from(capped.subquery())) or 0
    return NameSearch(min(total, COUNT_CAP), rows, total > COUNT_CAP)


def diff(
    session: Session, start: date, end: date, *, limit: int = MAX_ROWS, offset: int = 0
) -> tuple[int, Sequence[CorporationRecord]]:
    """Rows updated (更新年月日) from ``start`` to ``end`` inclusive, as the NTA's 差分 API."""
    if end < start:
        raise ValidationProblem("to must not be before from", field="to")
    query = select(CorporationRecord).where(
        CorporationRecord.update_date >= start, CorporationRecord.update_date <= end
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(CorporationRecord.update_date, CorporationRecord.corporate_number,
                       CorporationRecord.change_date, CorporationRecord.id)
        .limit(limit).offset(offset)
    ).all()  # fmt: skip
    return total, rows


def last_update(session: Session) -> date | None:
    """The newest update date stored (for the CSV/XML header's lastUpdateDate)."""
    return session.scalar(select(func.max(CorporationRecord.update_date)))
