"""Use cases of the address registry: lookups by code, children, name search, postal codes.

Every function answers "as of" a date (today by default) with the rows in force on it, and
returns plain dicts of ABR columns plus position and provenance; :mod:`.schemas` adds the GIF
core data model part names.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, Table, func, literal, or_, select
from sqlalchemy.orm import Session

from tsunagu.kernel import NotFound, ValidationProblem, is_valid_lg_code

from . import postal
from .models import PROVENANCE, municipality, prefecture, town
from .reading import as_dict, in_areas, kind_of_table, rows_query, today

MAX_PAGE = 1000


def check_lg_code(lg_code: str) -> str:
    """A 6-digit 全国地方公共団体コード with a valid check digit, else a 422 problem."""
    if not is_valid_lg_code(lg_code):
        raise ValidationProblem(
            f"{lg_code[:20]!r} is not a 6-digit local government code (全国地方公共団体コード) "
            "with a valid check digit",
            field="lg_code",
        )
    return lg_code


def is_prefecture_code(lg_code: str) -> bool:
    return lg_code[2:5] == "000"


def _query(table: Table, as_of: date | None) -> Select[Any]:
    return rows_query(table, as_of).add_columns(*(table.c[p] for p in PROVENANCE))


def _one(session: Session, table: Table, as_of: date | None, **keys: str) -> dict[str, Any]:
    query = _query(table, as_of).where(*(table.c[k] == v for k, v in keys.items()))
    row = session.execute(query).mappings().first()
    if row is None:
        when = f" on {as_of.isoformat()}" if as_of else ""
        raise NotFound(f"no {kind_of_table(table).entity} {'/'.join(keys.values())}{when}")
    return as_dict(row, kind_of_table(table).keys)


def get_area(session: Session, lg_code: str, as_of: date | None = None) -> dict[str, Any]:
    """The prefecture or municipality with this lg_code (``level`` says which)."""
    check_lg_code(lg_code)
    if is_prefecture_code(lg_code):
        return _one(session, prefecture, as_of, lg_code=lg_code) | {"level": "prefecture"}
    return _one(session, municipality, as_of, lg_code=lg_code) | {"level": "municipality"}


def get_town(
    session: Session, lg_code: str, machiaza_id: str, as_of: date | None = None
) -> dict[str, Any]:
    """One 町字 by lg_code and 町字ID, with its postal codes."""
    check_lg_code(lg_code)
    if not (len(machiaza_id) == 7 and machiaza_id.isascii() and machiaza_id.isdigit()):
        raise ValidationProblem(
            f"{machiaza_id[:20]!r} is not a 7-digit 町字ID", field="machiaza_id"
        )
    row = _one(session, town, as_of, lg_code=lg_code, machiaza_id=machiaza_id)
    return with_postal_codes(row)


def with_postal_codes(row: dict[str, Any]) -> dict[str, Any]:
    """Add ``postal_codes``: ABR's own post_code first, then Japan Post's for the town name."""
    codes = [row["post_code"]] if row.get("post_code") else []
    codes += postal.postal_codes_for(row["lg_code"], row.get("oaza_cho"), row.get("koaza"))
    return row | {"postal_codes": list(dict.fromkeys(codes))}


def _page(
    session: Session, query: Select[Any], order: list[Any], limit: int, offset: int, keys: Any
) -> tuple[list[dict[str, Any]], int]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(*order).limit(limit).offset(offset)).mappings()
    return [as_dict(r, keys) for r in rows], int(total)


def list_prefectures(session: Session, as_of: date | None = None) -> list[dict[str, Any]]:
    rows = session.execute(_query(prefecture, as_of).order_by(prefecture.c.lg_code)).mappings()
    return [as_dict(r, ("lg_code",)) | {"level": "prefecture"} for r in rows]


def children(
    session: Session, lg_code: str, as_of: date | None = None, limit: int = 100, offset: int = 0
) -> tuple[str, list[dict[str, Any]], int]:
    """A prefecture's municipalities or a municipality's 町字, paged: (level, items, total)."""
    area = get_area(session, lg_code, as_of)  # 404 for an unknown code
    if area["level"] == "prefecture":
        query = _query(municipality, as_of).where(municipality.c.lg_code.startswith(lg_code[:2]))
        items, total = _page(session, query, [municipality.c.lg_code], limit, offset, ("lg_code",))
        return "municipality", [i | {"level": "municipality"} for i in items], total
    query = _query(town, as_of).where(town.c.lg_code == lg_code)
    items, total = _page(session, query, [town.c.machiaza_id], limit, offset, ("lg_code",))
    return "machiaza", items, total


def _joined(*columns: Any) -> Any:
    expr: Any = literal("")
    for column in columns:
        expr = expr + func.coalesce(column, "")
    return expr


def search_towns(
    session: Session,
    q: str,
    lg_code: str | None = None,
    as_of: date | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """町字 whose name (大字・町+丁目+小字) or kana contains ``q``; optionally in one area."""
    words = q.strip()
    if not words:
        raise ValidationProblem("q must not be empty", field="q")
    name = _joined(town.c.oaza_cho, town.c.chome, town.c.koaza)
    kana = _joined(town.c.oaza_cho_kana, town.c.chome_kana, town.c.koaza_kana)
    query = _query(town, as_of).where(
        or_(name.contains(words, autoescape=True), kana.contains(words, autoescape=True))
    )
    if lg_code:
        area = in_areas(town, [check_lg_code(lg_code)])
        if area is not None:
            query = query.where(area)
    order = [func.length(name), town.c.lg_code, town.c.machiaza_id]
    return _page(session, query, order, limit, offset, ("lg_code",))


def by_postal_code(session: Session, code: str, as_of: date | None = None) -> dict[str, Any]:
    """Japan Post's records for a postal code, each with the ABR municipality and towns."""
    normalized = postal.normalize_postal_code(code)
    if normalized is None:
        raise ValidationProblem(f"{code[:20]!r} is not a 7-digit postal code", field="postal_code")
    records = postal.lookup_postal_code(normalized)
    if not records:
        raise NotFound(f"no postal code {normalized}")
    when = as_of or today()
    candidates = []
    for record in records:
        city = session.execute(
            _query(municipality, when).where(municipality.c.lg_code.startswith(record.jis_code))
        ).mappings().first()  # fmt: skip
        towns: list[dict[str, Any]] = []
        if record.neighborhood:
            query = _query(town, when).where(
                town.c.lg_code.startswith(record.jis_code),
                or_(
                    town.c.oaza_cho == record.neighborhood,
                    (town.c.oaza_cho.is_(None)) & (town.c.koaza == record.neighborhood),
                ),
            )
            rows = session.execute(query.order_by(town.c.machiaza_id).limit(MAX_PAGE))
            towns = [as_dict(r, ("lg_code",)) for r in rows.mappings()]
        lg_code = city["lg_code"] if city else towns[0]["lg_code"] if towns else None
        candidates.append(
            {
                "record": record,
                "lg_code": lg_code,
                "municipality": as_dict(city, ("lg_code",)) | {"level": "municipality"}
                if city
                else None,
                "towns": towns,
            }
        )
    return {"postal_code": normalized, "candidates": candidates}
