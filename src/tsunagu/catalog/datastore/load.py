"""Load a CSV/XLSX file into a distribution's datastore table, typed by its data dictionary.

The whole load is one transaction of the caller's session: the old table is dropped, the new one
created and filled, the registry row written; if the file turns out unreadable halfway, the
caller rolls back and the previous table is still there. A row whose cells do not fit the
dictionary is not stored; it is reported (row number, column, value, reason) and the load goes on.
Rows go in with the database's own bulk path: COPY on PostgreSQL, executemany on SQLite.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Connection, MetaData, Table, inspect, select
from sqlalchemy import Column as SAColumn
from sqlalchemy.orm import Session

from tsunagu.kernel import naive_utcnow

from ..models import DataElement, Distribution
from .columns import SQL_TYPES, CellError, Column, columns_for, missing_elements
from .errors import DatastoreLoadError
from .models import DatastoreTable
from .reader import open_table

SCHEMA = "datastore"  # PostgreSQL schema of the datastore tables (SQLite: the main database)
POSTGRES_MAX_COLUMNS = 1600  # columns a PostgreSQL table can have (MaxHeapAttributeNumber)
BATCH = 5000
MAX_STORED_ERRORS = 1000


@dataclass
class LoadReport:
    table: DatastoreTable
    rows: int = 0
    rejected: int = 0
    blank: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def schema_of(conn: Connection) -> str | None:
    return SCHEMA if conn.dialect.name == "postgresql" else None


def sa_table(name: str, columns: Sequence[Column], schema: str | None) -> Table:
    """The SQLAlchemy table of a datastore table: ``_id`` (row number in the file) + columns."""
    return Table(
        name,
        MetaData(),
        SAColumn("_id", BigInteger, primary_key=True, autoincrement=False),
        *(SAColumn(c.id, SQL_TYPES[c.type]) for c in columns),
        schema=schema,
    )


def load_file(
    session: Session,
    distribution: Distribution,
    path: Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    file_format: str = "",
    validate: bool = True,
    grant_to: str | None = None,
    max_bytes: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> LoadReport:
    """Replace the distribution's datastore table with the rows of ``path`` (caller commits)."""
    if max_bytes is not None and path.is_file() and path.stat().st_size > max_bytes:
        raise DatastoreLoadError(
            f"the file is {path.stat().st_size} bytes, more than the limit of {max_bytes} "
            "(TSUNAGU_DATASTORE_MAX_BYTES)"
        )
    elements: list[DataElement] = list(distribution.elements)
    conn = session.connection()
    schema = schema_of(conn)
    existing = session.scalar(
        select(DatastoreTable).where(DatastoreTable.distribution_pk == distribution.pk)
    )
    with open_table(path, encoding=encoding, sheet=sheet, file_format=file_format) as source:
        columns = columns_for(source.header, elements)
        _check_width(conn, columns)
        table = sa_table(distribution.id, columns, schema)
        table.drop(conn, checkfirst=True)
        table.create(conn)
        report = LoadReport(existing or DatastoreTable(distribution_pk=distribution.pk))
        rows = _typed_rows(source.rows, columns, report, progress)
        if conn.dialect.name == "postgresql":
            _copy(conn, table, columns, rows)
            if grant_to and not distribution.dataset.private:
                _grant(conn, table, grant_to)
        else:
            _executemany(conn, table, columns, rows)
        reg = report.table
        reg.table_name = distribution.id
        reg.fields = [c.as_field() for c in columns]
        reg.source_name = path.name[:500]
        reg.file_format = source.format
        reg.encoding = source.encoding
        reg.row_count = report.rows
        reg.rejected_count = report.rejected
        reg.load_errors = report.errors
        reg.loaded_at = naive_utcnow()
        reg.validation = None
    if validate:
        from .validate import validate_file

        reg.validation = validate_file(
            path, columns, missing_elements(source.header, elements),
            file_format=source.format, encoding=source.encoding, sheet=source.sheet or None,
        )  # fmt: skip
    if existing is None:
        session.add(reg)
    session.flush()
    drop_orphans(session)
    return report


def max_columns(conn: Connection) -> int:
    """Columns a datastore table can hold: the database's limit, less one for ``_id``."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)  # noqa: S101 - the dialect said sqlite
        return raw.getlimit(sqlite3.SQLITE_LIMIT_COLUMN) - 1
    return POSTGRES_MAX_COLUMNS - 1


def _check_width(conn: Connection, columns: Sequence[Column]) -> None:
    # Before anything is dropped: CREATE TABLE would fail with the database's own error.
    limit = max_columns(conn)
    if len(columns) > limit:
        raise DatastoreLoadError(
            f"the file has {len(columns)} columns; a datastore table holds at most {limit} "
            f"(the database's limit of {limit + 1} columns, one of them _id)",
            columns=len(columns),
            max_columns=limit,
        )


def _typed_rows(
    rows: Iterable[tuple[int, list[str]]],
    columns: Sequence[Column],
    report: LoadReport,
    progress: Callable[[int], object] | None,
) -> Iterator[tuple[Any, ...]]:
    width = len(columns)
    for number, cells in rows:
        if progress is not None and number % 1000 == 0:
            progress(1000)
        if not any(c.strip() for c in cells):
            report.blank += 1
            continue
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            _reject(report, number, None, f"the row has {len(cells)} cells, the header {width}")
            continue
        values: list[Any] = [number]
        bad = False
        for position, column in enumerate(columns):
            text = cells[position] if position < len(cells) else ""
            try:
                values.append(column.parse(text))
            except CellError as exc:
                _reject(report, number, column.id, str(exc), text)
                bad = True
                break
        if not bad:
            report.rows += 1
            yield tuple(values)


def _reject(
    report: LoadReport, row: int, column: str | None, message: str, value: str | None = None
) -> None:
    report.rejected += 1
    if len(report.errors) < MAX_STORED_ERRORS:
        error: dict[str, Any] = {"row": row, "field": column, "message": message}
        if value is not None:
            error["value"] = value[:200]
        report.errors.append(error)


def _batches(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _sqlite_value(value: Any) -> Any:
    # The sqlite3 module's own date adapters are deprecated; store ISO 8601 text as SQLAlchemy
    # does, so the table reads back through SQLAlchemy's Date/Time/DateTime types.
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def _executemany(
    conn: Connection, table: Table, columns: Sequence[Column], rows: Iterator[tuple[Any, ...]]
) -> None:
    quoted = ", ".join(_quote(c.name) for c in table.columns)
    marks = ", ".join("?" for _ in table.columns)
    sql = f"INSERT INTO {_quote(table.name)} ({quoted}) VALUES ({marks})"  # noqa: S608
    needs_conversion = any(c.type in {"date", "time", "datetime"} for c in columns)
    raw = conn.connection.driver_connection
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        for batch in _batches(rows):
            if needs_conversion:
                batch = [tuple(_sqlite_value(v) for v in row) for row in batch]
            cursor.executemany(sql, batch)
    finally:
        cursor.close()


def _copy(
    conn: Connection, table: Table, columns: Sequence[Column], rows: Iterator[tuple[Any, ...]]
) -> None:
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(SCHEMA, table.name),
        sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns),
    )
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)


def _grant(conn: Connection, table: Table, role: str) -> None:
    from psycopg import sql

    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
            sql.Identifier(SCHEMA), sql.Identifier(role)))  # fmt: skip
        cursor.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
            sql.Identifier(SCHEMA, table.name), sql.Identifier(role)))  # fmt: skip


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def drop_orphans(session: Session) -> list[str]:
    """Drop datastore tables whose resource is gone (the registry row cascades away with it)."""
    conn = session.connection()
    schema = schema_of(conn)
    names = inspect(conn).get_table_names(schema=schema)
    known = set(session.scalars(select(DatastoreTable.table_name)))
    orphans = [n for n in names if _UUID.fullmatch(n) and n not in known]
    for name in orphans:
        sa_table(name, [], schema).drop(conn)
    return orphans


def drop_table(session: Session, distribution: Distribution) -> bool:
    """Remove the distribution's datastore table and registry row; False if it had none."""
    reg = session.scalar(
        select(DatastoreTable).where(DatastoreTable.distribution_pk == distribution.pk)
    )
    if reg is None:
        return False
    conn = session.connection()
    sa_table(reg.table_name, [], schema_of(conn)).drop(conn, checkfirst=True)
    session.delete(reg)
    session.flush()
    return True


__all__ = [
    "DatastoreLoadError",
    "LoadReport",
    "drop_orphans",
    "drop_table",
    "load_file",
    "sa_table",
]
