"""Hot statements run on the driver's cursor.

SQLAlchemy Core spends about 20 µs of Python on each execution (cache lookup, parameter
processing, events, result set-up) around a statement SQLite runs in under 10 µs. The mesh
writes two message-log rows per round trip on each node, so :class:`DriverStatement` compiles a
Core statement once per dialect and parameter set and then runs it on the DBAPI cursor of the
same connection and transaction, with the columns' own bind processors (SQLite's DATETIME
text, for instance) and scalar defaults. Measured on this project's 2-core machine
(2026-11-26, SQLite): message-log insert 28 µs through Core, 9 µs here. A SELECT's rows come
back through its columns' own result processors (JSON, SQLite's booleans), as plain tuples.

Only for statements whose parameters are plain column values: no SQL expressions as values, no
callable defaults (pass those values), no JSON columns left to their default (JSON's bind
processor would store ``null`` where the column was omitted before).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.selectable import Select


@dataclass(frozen=True)
class _Prepared:
    sql: str
    positional: tuple[str, ...] | None  # the parameter order (qmark, format), or None (named)
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    results: tuple[Callable[[Any], Any] | None, ...]  # per selected column (SELECT only)
    fixed: dict[str, Any]  # the statement's own bound values (literal() and the like)


class DriverStatement:
    """A Core INSERT, UPDATE or SELECT, compiled once per dialect and set of keys.

    ``defaults`` fills keys the caller leaves out from the columns' scalar defaults (an INSERT
    names every column in ``keys``: a column it leaves out is NULL, not its default).
    """

    def __init__(
        self, table: Table, statement: Insert | Update | Select[Any], keys: Iterable[str] = ()
    ) -> None:
        self.table = table
        self.statement = statement
        self.keys = tuple(keys)
        self.defaults = {
            key: self.table.c[key].default.arg  # type: ignore[union-attr]
            for key in self.keys
            if key in self.table.c
            and self.table.c[key].default is not None
            and self.table.c[key].default.is_scalar  # type: ignore[union-attr]
        }
        self._prepared: dict[tuple[str, tuple[str, ...]], _Prepared] = {}

    def _prepare(self, connection: Connection, keys: tuple[str, ...]) -> _Prepared:
        dialect = connection.dialect
        found = self._prepared.get((dialect.name, keys))
        if found is None:
            columns = [k for k in keys if k in self.table.c]
            compiled = self.statement.compile(dialect=dialect, column_keys=columns)
            processors = []
            for key in keys:
                if key in self.table.c:
                    column_type = self.table.c[key].type.dialect_impl(dialect)
                    process = column_type.bind_processor(dialect)
                    if process is not None:
                        processors.append((key, process))
            results: list[Callable[[Any], Any] | None] = []
            if isinstance(self.statement, Select):
                for column in self.statement.selected_columns:
                    impl = column.type.dialect_impl(dialect)
                    results.append(impl.result_processor(dialect, None))
            positional = compiled.positiontup
            found = _Prepared(
                compiled.string,
                tuple(positional) if positional is not None else None,
                tuple(processors),
                tuple(results),
                {k: v for k, v in compiled.params.items() if k not in keys},
            )
            self._prepared[(dialect.name, keys)] = found
        return found

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """Run with ``params`` (plus defaults); the DBAPI cursor, for ``RETURNING`` rows.

        A constraint violation is SQLAlchemy's :class:`IntegrityError`, as through Core.
        """
        return self._run(connection, params)[0]

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """A SELECT's rows, each value through its column's result processor."""
        cursor, prepared = self._run(connection, params)
        try:
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        if not any(prepared.results):
            return [tuple(row) for row in fetched]
        return [
            tuple(v if p is None else p(v) for p, v in zip(prepared.results, row, strict=True))
            for row in fetched
        ]

    def execute_many(self, connection: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        """Run once per row of ``rows``, sent together (the driver's ``executemany``: on
        PostgreSQL psycopg's pipeline, one wait for the server). For INSERT and UPDATE without
        ``RETURNING``. Measured against one ``execute`` per row (message-log inserts, 8 per
        transaction, 2026-11-27): the client's CPU 62 → 32 µs a row, PostgreSQL's 61 → 38 µs.
        A constraint violation fails them all, as :class:`IntegrityError`.
        """
        groups: dict[str, tuple[_Prepared, list[Any]]] = {}
        for params in rows:
            prepared, arguments = self._arguments(connection, params)
            groups.setdefault(prepared.sql, (prepared, []))[1].append(arguments)
        if not groups:
            return
        cursor = _cursor(connection)
        try:
            for prepared, arguments in groups.values():
                _send(connection, cursor.executemany, prepared.sql, arguments)
        finally:
            cursor.close()

    def _arguments(
        self, connection: Connection, params: Mapping[str, Any]
    ) -> tuple[_Prepared, Any]:
        values = {**self.defaults, **params} if self.defaults else dict(params)
        prepared = self._prepare(connection, tuple(sorted(values)))
        if prepared.fixed:
            values.update(prepared.fixed)
        for key, process in prepared.processors:
            values[key] = process(values[key])
        arguments: Any = (
            values if prepared.positional is None else [values[k] for k in prepared.positional]
        )
        return prepared, arguments

    def _run(self, connection: Connection, params: Mapping[str, Any]) -> tuple[Any, _Prepared]:
        prepared, arguments = self._arguments(connection, params)
        cursor = _cursor(connection)
        try:
            _send(connection, cursor.execute, prepared.sql, arguments)
        except BaseException:
            cursor.close()
            raise
        return cursor, prepared


def _cursor(connection: Connection) -> Any:
    """A DBAPI cursor in ``connection``'s transaction, begun as Core's autobegin would (SQLite:
    our BEGIN)."""
    if not connection.in_transaction():
        connection.begin()
    return connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _send(connection: Connection, method: Callable[..., Any], sql: str, arguments: Any) -> None:
    """``method(sql, arguments)``; a constraint violation as SQLAlchemy's IntegrityError."""
    try:
        method(sql, arguments)
    except connection.dialect.loaded_dbapi.IntegrityError as exc:
        raise IntegrityError(sql, arguments, exc) from exc
