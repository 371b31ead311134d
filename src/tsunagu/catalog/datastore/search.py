"""``datastore_search``: filters, q, fields, sort, limit/offset and total, as CKAN has them."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, String, cast, false, func, or_, select
from sqlalchemy.orm import Session

from tsunagu.accounts import as_row_id
from tsunagu.http import MAX_OFFSET
from tsunagu.kernel import ValidationProblem

from .columns import CellError, Column
from .load import sa_table, schema_of
from .models import DatastoreTable

MAX_LIMIT = 32_000  # CKAN's ckan.datastore.search.rows_max
DEFAULT_LIMIT = 100
_SORT_PART = re.compile(r'\s*"?(?P<name>.+?)"?(?:\s+(?P<dir>asc|desc))?\s*', re.IGNORECASE)


@dataclass
class SearchRequest:
    filters: dict[str, Any] = field(default_factory=dict)
    q: str | dict[str, str] = ""
    fields: list[str] | None = None
    sort: str = ""
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    include_total: bool = True


def jsonable(value: Any) -> Any:
    """A database value as JSON: dates and times ISO 8601, decimals as numbers, and null for
    infinities and NaN, which JSON has no numbers for (``SELECT 1e999``)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def field_dicts(reg: DatastoreTable) -> list[dict[str, Any]]:
    """CKAN's ``fields`` list: ``_id`` then each column with its type and dictionary info."""
    out: list[dict[str, Any]] = [{"id": "_id", "type": "int"}]
    for f in reg.fields:
        info = {"label": f.get("label", ""), "notes": f.get("info", "")}
        if f.get("element"):
            info["element"] = f["element"]
        out.append({"id": f["id"], "type": f["type"], "info": info})
    return out


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(session: Session, reg: DatastoreTable, request: SearchRequest) -> dict[str, Any]:
    """Rows of the table matching the request, in CKAN's datastore_search result shape."""
    columns = [Column.from_field(f) for f in reg.fields]
    by_id = {c.id: c for c in columns}
    table = sa_table(reg.table_name, columns, schema_of(session.connection()))
    known = ["_id", *by_id]

    def col(name: str, where: str) -> Any:
        if name not in known:
            raise ValidationProblem(
                f"{where}: field {name!r} not in the table; fields: {', '.join(known)}",
                field=where,
            )
        return table.c[name]

    if not 0 <= request.limit <= MAX_LIMIT:
        raise ValidationProblem(f"limit must be between 0 and {MAX_LIMIT}", field="limit")
    if not 0 <= request.offset <= MAX_OFFSET:
        raise ValidationProblem(f"offset must be between 0 and {MAX_OFFSET}", field="offset")
    chosen = request.fields if request.fields else known
    selected = [col(name, "fields") for name in chosen]

    conditions: list[ColumnElement[bool]] = []
    for name, wanted in request.filters.items():
        column = col(name, "filters")
        values = wanted if isinstance(wanted, list) else [wanted]
        parsed = [_filter_value(by_id.get(name), name, v) for v in values]
        conditions.append(column.in_(parsed) if parsed else false())
    if isinstance(request.q, dict):
        for name, text in request.q.items():
            _refuse_non_finite(text, "q")
            conditions.append(cast(col(name, "q"), String).like(_like(str(text)), escape="\\"))
    elif request.q:
        # Every word must occur in some column (CKAN's full text, without stemming).
        for word in request.q.split():
            pattern = _like(word)
            conditions.append(
                or_(*(cast(table.c[c.id], String).like(pattern, escape="\\") for c in columns))
            )
    order = []
    for part in [p for p in request.sort.split(",") if p.strip()]:
        match = _SORT_PART.fullmatch(part)
        if match is None:
            raise ValidationProblem(f"cannot read sort {part!r}", field="sort")
        column = col(match["name"].strip(), "sort")
        order.append(column.desc() if (match["dir"] or "").lower() == "desc" else column.asc())
    order.append(table.c["_id"].asc())

    query = select(*selected).where(*conditions).order_by(*order)
    rows = session.execute(query.limit(request.limit).offset(request.offset)).all()
    records = [{name: jsonable(v) for name, v in zip(chosen, row, strict=True)} for row in rows]
    fields = [f for f in field_dicts(reg) if f["id"] in chosen]
    result: dict[str, Any] = {
        "resource_id": reg.table_name,
        "fields": sorted(fields, key=lambda f: chosen.index(f["id"])),
        "records": records,
        "limit": request.limit,
        "offset": request.offset,
        "filters": request.filters,
        "sort": request.sort,
        "_links": {"start": f"/api/3/action/datastore_search?resource_id={reg.table_name}"},
    }
    if request.q:
        result["q"] = request.q
    if request.include_total:
        total = session.scalar(select(func.count()).select_from(table).where(*conditions))
        result["total"] = int(total or 0)
        result["total_was_estimated"] = False
    next_offset = request.offset + request.limit
    result["_links"]["next"] = (
        f"/api/3/action/datastore_search?resource_id={reg.table_name}&offset={next_offset}"
    )
    return result


def _refuse_non_finite(value: Any, where: str) -> None:
    # JSON text like 1e400 parses to inf: it matches nothing and cannot be echoed back as JSON.
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationProblem(f"{where}: {value!r} is not a finite number", field=where)


def _filter_value(column: Column | None, name: str, value: Any) -> Any:
    _refuse_non_finite(value, "filters")
    if column is None:  # _id
        text = str(value).strip() if isinstance(value, int | str) else ""
        number = None if isinstance(value, bool) else as_row_id(text)
        if number is None:
            raise ValidationProblem(
                f"filters: _id must be a row id (ASCII digits, at most 2**63 - 1), got {value!r}",
                field="filters",
            )
        return number
    if isinstance(value, dict | list):
        raise ValidationProblem(
            f"filters: {name!r} must be a value or a list of values", field="filters"
        )
    text = value if isinstance(value, str) else json.dumps(value)
    if column.type == "boolean" and isinstance(value, bool):
        return value
    try:
        parsed = Column(column.id, column.label, column.type).parse(text)
    except CellError as exc:
        raise ValidationProblem(f"filters: {name!r} {exc}", field="filters") from None
    return parsed


def parse_fields(value: Any) -> list[str] | None:
    """``fields`` as CKAN takes it: a list, or a comma-separated string."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationProblem("fields is not a JSON list", field="fields") from None
        else:
            return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValidationProblem("fields must be a list of field names", field="fields")


def parse_object(value: Any, key: str) -> Any:
    """A JSON object parameter (``filters``, dict ``q``) given as JSON text or an object."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationProblem(f"{key} is not a JSON object", field=key) from None
    return value


__all__ = [
    "SearchRequest",
    "field_dicts",
    "jsonable",
    "parse_fields",
    "parse_object",
    "search",
]
