"""``datastore_search_sql``: one read-only SQL statement over datastore tables, with a time limit.

Enforcement is the database's, not a parse of the SQL text:

* SQLite: an authorizer on the connection allows only SELECT, reads of the datastore tables of
  public datasets and ordinary functions (no PRAGMA, ATTACH, writes, ``load_extension``, other
  tables, ``sqlite_master``); a progress handler aborts the statement at the time limit. The
  Python sqlite3 module runs one statement per call.
* PostgreSQL: the statement runs on a separate connection as a read-only role
  (``TSUNAGU_DATASTORE_READ_URL``, as CKAN's ``ckan.datastore.read_url``) that holds SELECT on
  the datastore tables of public datasets only, inside a ``READ ONLY`` transaction with
  ``statement_timeout``, sent as one prepared statement (several statements are refused).

Both cap the result's size (``max_bytes``, counted as the values' text while rows are fetched):
on SQLite the cap is also the connection's ``SQLITE_LIMIT_LENGTH`` while the statement runs, so
``randomblob(1e9)`` fails inside SQLite instead of allocating; on PostgreSQL the statement is
wrapped so that a row above the cap is replaced by a flag on the server, and rows are streamed
one at a time (libpq single-row mode) and the statement cancelled once the cap is passed.
"""

from __future__ import annotations

import re
import sqlite3
import time as clock
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..models import Dataset, Distribution
from .errors import SqlError, SqlNotConfigured, SqlRejected, SqlTimeout
from .load import SCHEMA
from .models import DatastoreTable
from .search import jsonable

# Functions a query must not call even on SQLite (loading code, tokenizer pointers).
_DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})
_PROGRESS_STEPS = 1000
# Largest result a query may return, in bytes of its values as text (blobs count twice: they are
# sent as hex). Without it one `SELECT randomblob(1000000000)` answers 2 GB of JSON.
MAX_RESULT_BYTES = 50_000_000


def public_tables(session: Session) -> set[str]:
    """Names of the datastore tables whose dataset is public and active."""
    rows = session.scalars(
        select(DatastoreTable.table_name)
        .join(Distribution, Distribution.pk == DatastoreTable.distribution_pk)
        .join(Dataset, Dataset.pk == Distribution.dataset_pk)
        .where(Dataset.private.is_(False), Dataset.state == "active")
    )
    return set(rows)


def run_sql(
    session: Session,
    sql: str,
    *,
    timeout_ms: int,
    max_rows: int,
    read_engine: Engine | None = None,
    max_bytes: int = MAX_RESULT_BYTES,
) -> dict[str, Any]:
    """Run ``sql``; CKAN's result: ``records``, ``fields`` and ``records_truncated`` if cut."""
    if not sql.strip():
        raise SqlError("sql is empty")
    limits = _Limits(timeout_ms, max_rows, max_bytes)
    if session.get_bind().dialect.name == "sqlite":
        names, rows = _sqlite(session, sql, limits)
    else:
        if read_engine is None:
            raise SqlNotConfigured(
                "SQL over the datastore on PostgreSQL needs a read-only role: set "
                "TSUNAGU_DATASTORE_READ_URL (see docs/datastore.md)"
            )
        names, rows = _postgres(read_engine, sql, limits, public_tables(session))
    records = [dict(zip(names, (jsonable(v) for v in row), strict=True)) for row in rows[:max_rows]]
    result: dict[str, Any] = {
        "sql": sql,
        "records": records,
        "fields": [{"id": n} for n in names],
    }
    if len(rows) > max_rows:
        result["records_truncated"] = True
    return result


@dataclass(frozen=True)
class _Limits:
    timeout_ms: int
    max_rows: int
    max_bytes: int

    def too_large(self) -> SqlError:
        return SqlError(
            f"the result is larger than {self.max_bytes} bytes, the limit of "
            "datastore_search_sql: select fewer rows (LIMIT), fewer columns or shorter values"
        )


def _fetch(rows: Iterable[Sequence[Any]], limits: _Limits) -> list[Sequence[Any]]:
    """Up to ``max_rows + 1`` rows (one more tells the result was cut), within ``max_bytes``."""
    fetched: list[Sequence[Any]] = []
    size = 0
    for row in rows:
        if len(fetched) == limits.max_rows:
            fetched.append(row)
            break
        size += sum(_text_size(v) for v in row)
        if size > limits.max_bytes:
            raise limits.too_large()
        fetched.append(row)
    return fetched


def _text_size(value: Any) -> int:
    """About as many bytes as the value takes in the JSON answer."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return 2 * len(value)  # hex
    return 8


def _authorizer(allowed: set[str]) -> Callable[[int, str | None, str | None, Any, Any], int]:
    def authorize(action: int, arg1: str | None, arg2: str | None, db: Any, _src: Any) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            # A recursive CTE reads itself with no database name; every table has one.
            if db is None or (db == "main" and arg1 in allowed):
                return sqlite3.SQLITE_OK
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            return sqlite3.SQLITE_DENY if (arg2 or "").lower() in _DENIED_FUNCTIONS else 0
        return sqlite3.SQLITE_DENY

    return authorize


def _sqlite(
    session: Session, sql: str, limits: _Limits
) -> tuple[list[str], Sequence[Sequence[Any]]]:
    allowed = public_tables(session)
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)  # noqa: S101 - the dialect said sqlite
    timeout_ms = limits.timeout_ms
    deadline = clock.monotonic() + timeout_ms / 1000
    timed_out = False

    def progress() -> int:
        nonlocal timed_out
        timed_out = clock.monotonic() > deadline
        return 1 if timed_out else 0

    # Root pages of the allowed tables and their indexes (read before the authorizer is on).
    pages = _root_pages(raw, allowed)
    raw.set_authorizer(_authorizer(allowed))
    raw.set_progress_handler(progress, _PROGRESS_STEPS)
    # The connection is the pool's: its own length limit comes back in `finally`.
    length_limit = raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max(limits.max_bytes, 1))
    cursor = raw.cursor()
    try:
        # The authorizer sees only the columns a statement reads: `SELECT count(*) FROM t` reads
        # none. The compiled program opens every table it touches, so check those too.
        cursor.execute("EXPLAIN " + sql)
        opened = {(op[4], op[3]) for op in cursor.fetchall() if op[1] in _OPENS}  # p3 db, p2 page
        if any(db != 0 or page not in pages for db, page in opened):
            raise SqlRejected("only datastore tables of public datasets can be read")
        cursor.execute(sql)
        names = [d[0] for d in cursor.description or []]
        rows = _fetch(cursor, limits)
    except sqlite3.DatabaseError as exc:
        if timed_out:
            raise SqlTimeout(f"the query took longer than {timeout_ms} ms") from None
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_TOOBIG":
            raise limits.too_large() from None
        message = str(exc)
        if "not authorized" in message or "prohibited" in message:
            raise SqlRejected(
                "only SELECT statements over datastore tables of public datasets are allowed "
                f"({message})"
            ) from None
        raise SqlError(message) from None
    except (sqlite3.ProgrammingError, sqlite3.Warning) as exc:
        raise SqlError(f"{exc} (send one SELECT statement)") from None
    finally:
        cursor.close()
        raw.set_authorizer(None)
        raw.set_progress_handler(None, 0)
        raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, length_limit)
    return names, rows


_OPENS = frozenset({"OpenRead", "OpenWrite", "ReopenIdx", "OpenDup", "VOpen"})


def _root_pages(raw: sqlite3.Connection, tables: set[str]) -> set[int]:
    if not tables:
        return set()
    marks = ", ".join("?" for _ in tables)
    rows = raw.execute(
        f"SELECT rootpage FROM sqlite_master WHERE tbl_name IN ({marks})",  # noqa: S608
        sorted(tables),
    ).fetchall()
    return {int(r[0]) for r in rows if r[0]}


def _postgres(
    engine: Engine, sql: str, limits: _Limits, allowed: set[str]
) -> tuple[list[str], Sequence[Sequence[Any]]]:
    import psycopg

    try:
        pooled = engine.raw_connection()
    except Exception as exc:
        raise SqlNotConfigured(f"cannot connect as the datastore read role: {exc}") from None
    try:
        raw = pooled.driver_connection
        if not isinstance(raw, psycopg.Connection):
            raise SqlNotConfigured("TSUNAGU_DATASTORE_READ_URL must be a postgresql+psycopg URL")
        try:
            return _pg_query(raw, sql, limits, allowed)
        finally:
            raw.rollback()
    finally:
        pooled.close()


def _pg_query(
    raw: Any, sql: str, limits: _Limits, allowed: set[str]
) -> tuple[list[str], Sequence[Sequence[Any]]]:
    import psycopg
    from psycopg import errors as pg

    timeout_ms = limits.timeout_ms
    with raw.cursor() as cursor:
        cursor.execute("SET TRANSACTION READ ONLY")
        cursor.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
        cursor.execute(f"SET LOCAL search_path = {SCHEMA}")
        try:
            # The plan names every table the statement reads: a datastore table whose dataset
            # became private or was deleted after its grant, or a function that runs SQL of its
            # own, is refused before anything runs. prepare=True: the extended protocol, which
            # refuses several statements.
            cursor.execute("EXPLAIN (VERBOSE, FORMAT JSON) " + sql, prepare=True)
            _check_plan(cursor.fetchone()[0], allowed)
            names, bounded = _bounded(cursor, sql, limits.max_bytes)
            # stream(): the extended protocol too, in single-row mode, so the rows past the
            # limits are never received (leaving the stream cancels the statement).
            with closing(cursor.stream(bounded)) as stream:
                rows = _fetch(_unflagged(stream, limits), limits)
        except pg.QueryCanceled:
            raise SqlTimeout(f"the query took longer than {timeout_ms} ms") from None
        except (pg.InsufficientPrivilege, pg.ReadOnlySqlTransaction) as exc:
            raise SqlRejected(
                "only reads of datastore tables of public datasets are allowed "
                f"({str(exc).strip()})"
            ) from None
        except psycopg.Error as exc:
            raise SqlError(str(exc).strip()) from None
    return names, rows


def _bounded(cursor: Any, sql: str, max_bytes: int) -> tuple[list[str], str]:
    """The result's column names, and ``sql`` wrapped so that no row above ``max_bytes``
    leaves the server.

    libpq receives a row whole before handing it over, even in single-row mode, so
    ``SELECT repeat('x', 500000000)`` would arrive (and be decoded) before :func:`_fetch`
    could count it. The wrapper measures each row on the server (``pg_column_size``, the
    stored size of each value) and sends NULLs and a flag instead of a row that is too large.
    The columns are renamed positionally, since a result may repeat a name (``SELECT 1, 1``).
    """
    import psycopg

    body = sql.strip().rstrip(";").rstrip()
    try:  # LIMIT 0: planned, not run
        describe = f"SELECT * FROM (\n{body}\n) AS tsunagu_result LIMIT 0"  # noqa: S608
        cursor.execute(describe, prepare=True)
    except psycopg.errors.QueryCanceled:
        raise
    except psycopg.Error as exc:  # EXPLAIN took it, a subquery does not: not a plain SELECT
        raise SqlRejected(
            f"only SELECT statements are allowed ({str(exc).strip().splitlines()[0]})"
        ) from None
    names = [d.name for d in cursor.description or []]
    columns = [f"c{i}" for i in range(len(names))]
    size = " + ".join(f"coalesce(pg_column_size(r.{c}), 0)::bigint" for c in columns) or "0"
    values = "".join(f", CASE WHEN s.over THEN NULL ELSE r.{c} END" for c in columns)
    renamed = f"({', '.join(columns)})" if columns else ""
    bounded = (
        f"SELECT s.over{values} FROM (\n{body}\n) AS r{renamed} "  # noqa: S608 - the user's SQL is the point
        f"CROSS JOIN LATERAL (SELECT {size} > {int(max_bytes)} AS over) AS s"
    )
    return names, bounded


def _unflagged(rows: Iterable[Sequence[Any]], limits: _Limits) -> Iterator[Sequence[Any]]:
    """The rows of :func:`_bounded`'s statement without its flag; a flagged row is too large."""
    for row in rows:
        if row[0]:
            raise limits.too_large()
        yield row[1:]


# Functions that run a query given as text: its tables do not appear in the plan.
_QUERY_FUNCTIONS = re.compile(r"\b(?:query|table|cursor|schema|database)_to_xml(?:schema)?\b")


def _check_plan(plan: Any, allowed: set[str]) -> None:
    """Refuse a plan that reads anything but the allowed datastore tables."""
    stack = [plan]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            relation = node.get("Relation Name")
            if relation is not None and (node.get("Schema") != SCHEMA or relation not in allowed):
                raise SqlRejected(
                    f"only datastore tables of public datasets can be read, not {relation!r}"
                )
            for key, value in node.items():
                if key in ("Output", "Filter", "Function Call") and _QUERY_FUNCTIONS.search(
                    str(value)
                ):
                    raise SqlRejected("functions that run SQL given as text are not allowed")
                stack.append(value)
