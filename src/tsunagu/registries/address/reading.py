"""Streaming reads of the registry as plain dicts keyed by ABR column names (for the geocoder).

Each ``iter_*`` function yields the rows valid on ``as_of`` (today by default), joined with
their position (``rep_lat``, ``rep_lon``, ``rep_srid``, ``rep_scale``, ``rep_src_code``; None
where no position is published). Empty key parts (``rsdt2_id``) come out as None, like every
other empty ABR field. Rows are streamed from the database in batches, ordered by key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, false, or_, select
from sqlalchemy.orm import Session

from tsunagu.kernel import naive_utcnow

from .models import (
    KINDS,
    POSITION,
    POSITIONS_OF,
    Kind,
    block,
    import_file,
    municipality,
    parcel,
    prefecture,
    residence,
    town,
)

STREAM_BATCH = 5000


def has_address_data(session: Session) -> bool:
    """True once any ABR file has been imported."""
    return session.execute(select(import_file.c.sha256).limit(1)).first() is not None


def today() -> date:
    return naive_utcnow().date()


def valid_on(table: Table, as_of: date) -> ColumnElement[bool]:
    """Rows in force on ``as_of``: in effect by then, not abolished or withdrawn by then."""
    return and_(
        or_(table.c.efct_date.is_(None), table.c.efct_date <= as_of),
        or_(table.c.ablt_date.is_(None), table.c.ablt_date > as_of),
        or_(table.c.withdrawn_date.is_(None), table.c.withdrawn_date > as_of),
    )


def in_areas(table: Table, lg_codes: Iterable[str] | None) -> ColumnElement[bool] | None:
    """Rows of these municipalities; a prefecture code (``130001``) means all of its rows."""
    if lg_codes is None:
        return None
    codes = list(lg_codes)
    exact = [c for c in codes if c[2:5] != "000"]
    prefixes = [c[:2] for c in codes if c[2:5] == "000"]
    clauses: list[ColumnElement[bool]] = [table.c.lg_code.startswith(p) for p in prefixes]
    if exact:
        clauses.append(table.c.lg_code.in_(exact))
    return or_(*clauses) if clauses else false()


def kind_of_table(table: Table) -> Kind:
    return next(k for k in KINDS.values() if k.table is table)


def rows_query(table: Table, as_of: date | None = None) -> Select[Any]:
    """SELECT of a master table's ABR columns with its position, valid on ``as_of``."""
    kind = kind_of_table(table)
    pos = POSITIONS_OF[table.name]
    columns = [table.c[k] for k in (*kind.keys, *kind.fields)]
    columns += [pos.c[p] for p in POSITION]
    joined = table.outerjoin(
        pos,
        and_(*(pos.c[k] == table.c[k] for k in kind.keys), pos.c.withdrawn_date.is_(None)),
    )
    query = select(*columns).select_from(joined)
    return query.where(valid_on(table, as_of or today()))


def as_dict(row: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    out = dict(row)
    for key in keys:
        if out[key] == "":
            out[key] = None
    return out


def _iter(
    session: Session, table: Table, lg_codes: Iterable[str] | None, as_of: date | None
) -> Iterator[dict[str, Any]]:
    kind = kind_of_table(table)
    query = rows_query(table, as_of)
    area = in_areas(table, lg_codes)
    if area is not None:
        query = query.where(area)
    query = query.order_by(*(table.c[k] for k in kind.keys))
    result = session.execute(query.execution_options(yield_per=STREAM_BATCH))
    try:
        for row in result.mappings():
            yield as_dict(row, kind.keys)
    finally:
        # A caller that stops early must not leave PostgreSQL's server-side cursor open.
        result.close()


def iter_prefectures(session: Session, as_of: date | None = None) -> Iterator[dict[str, Any]]:
    """都道府県 rows (mt_pref) with their positions."""
    return _iter(session, prefecture, None, as_of)


def iter_municipalities(
    session: Session, lg_codes: Iterable[str] | None = None, as_of: date | None = None
) -> Iterator[dict[str, Any]]:
    """市区町村 rows (mt_city, incl. 政令市の区) with their positions."""
    return _iter(session, municipality, lg_codes, as_of)


def iter_towns(
    session: Session, lg_codes: Iterable[str] | None = None, as_of: date | None = None
) -> Iterator[dict[str, Any]]:
    """町字 rows (mt_town) with their positions; ``lg_codes`` may name prefectures too."""
    return _iter(session, town, lg_codes, as_of)


def iter_blocks(
    session: Session, lg_codes: Iterable[str] | None = None, as_of: date | None = None
) -> Iterator[dict[str, Any]]:
    """住居表示 街区 rows (mt_rsdtdsp_blk) with their positions."""
    return _iter(session, block, lg_codes, as_of)


def iter_residences(
    session: Session, lg_codes: Iterable[str] | None = None, as_of: date | None = None
) -> Iterator[dict[str, Any]]:
    """住居表示 住居 rows (mt_rsdtdsp_rsdt) with their positions."""
    return _iter(session, residence, lg_codes, as_of)


def iter_parcels(
    session: Session, lg_codes: Iterable[str] | None = None, as_of: date | None = None
) -> Iterator[dict[str, Any]]:
    """地番 rows (mt_parcel) with their positions."""
    return _iter(session, parcel, lg_codes, as_of)
