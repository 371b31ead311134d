"""Reading the corporate registry: by number (now, as of a date, with history), name and period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

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


def search_by_name(
    session: Session,
    name: str,
    *,
    match: str = "prefix",
    include_closed: bool = True,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, Sequence[CorporationRecord]]:
    """Current corporations whose normalized name (or reading) starts with / contains ``name``.

    Rows the NTA marks 検索対象除外 (``hihyoji``) are left out, as on the NTA's own site.
    """
    key = name_key(name)
    if not key:
        raise ValidationProblem("name must contain at least one letter", field="name")
    if match not in ("prefix", "contains"):
        raise ValidationProblem("match must be prefix or contains", field="match")
    kana = furigana_key(name)
    if match == "prefix":
        condition = or_(
            _prefix(CorporationRecord.name_key, key), _prefix(CorporationRecord.furigana_key, kana)
        )
    else:
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = CorporationRecord.name_key.like(f"%{escaped}%", escape="\\")
    query = select(CorporationRecord).where(
        CorporationRecord.current.is_(True), CorporationRecord.hihyoji.is_(False), condition
    )
    if not include_closed:
        query = query.where(CorporationRecord.close_date.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(CorporationRecord.name_key, CorporationRecord.corporate_number)
        .limit(limit)
        .offset(offset)
    ).all()
    return total, rows


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
