"""Importing ABR distribution files: streaming, idempotent, resumable, newest file wins.

Rules (docs/address-registry.md):

- Each CSV is imported in one transaction, together with its checkpoint row in
  ``address_import_file`` (keyed by the zip's SHA-256 and the CSV's name). A file that fails
  halfway leaves the previous data untouched; the next run skips the files already done and
  imports the rest — that is the resume. Importing a file again is a no-op.
- Newest wins per municipality: ``address_import_source`` remembers, per kind and lg_code, the
  date of the file the rows came from; rows of a municipality in an *older* file are skipped
  (counted as ``superseded``).
- Events (``address.<entity>.new|changed|abolished``, data ``before``/``after``) go to the
  outbox in the same transaction, but not on the first load of a municipality's rows of a kind:
  that is an initial load (800k events for the country), not a change. Position files emit none.
- Rows a newer file no longer lists stay, with ``withdrawn_date`` set (and an ``abolished``
  event); rows with an ``ablt_date`` stay as published. Nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, Table, and_, bindparam, insert, select, update
from sqlalchemy.orm import Session
from tqdm import tqdm

from tsunagu.db import record_events
from tsunagu.kernel import Event, naive_utcnow

from .csvfile import RowError, Source, open_sources
from .errors import AddressImportError
from .models import Kind, import_file, import_source
from .slices import open_block_list

BATCH = 5000
Key = tuple[str, ...]
Row = dict[str, Any]


@dataclass
class FileReport:
    """What importing one CSV did."""

    label: str
    kind: str
    file_date: date
    skipped: bool = False  # already imported (same content)
    rows: int = 0
    inserted: int = 0
    changed: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    superseded: int = 0  # rows of municipalities a newer file already holds
    duplicates: int = 0  # lines repeating an earlier line's key (the later line wins)
    events: int = 0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        if self.skipped:
            return f"{self.label}: already imported"
        return (
            f"{self.label} ({self.kind}, {self.file_date}): {self.rows} rows, "
            f"{self.inserted} new, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.withdrawn} withdrawn, {self.superseded} superseded, "
            f"{self.duplicates} duplicate keys, "
            f"{len(self.errors)} broken, {self.events} events"
        )


def import_files(
    bind: Engine | Connection | Session,
    paths: Iterable[Path],
    *,
    progress: bool = False,
    on_file: Callable[[FileReport], None] | None = None,
) -> list[FileReport]:
    """Import ABR files (zips or CSVs) in the order given; one transaction per CSV.

    An abr-geocoder v1 ``blockList.json`` (see :mod:`.slices`) is read as 街区 rows and positions.

    Raises :class:`AddressImportError` for a file that cannot be read at all; files before it
    stay imported.
    """
    reports = []
    for path in map(Path, paths):
        sources: Sequence[Source] = (
            open_block_list(path) if path.suffix == ".json" else open_sources(path)
        )
        for source in sources:
            report = import_source_file(bind, source, progress=progress)
            reports.append(report)
            if on_file:
                on_file(report)
    return reports


@contextmanager
def _transaction(bind: Engine | Connection | Session) -> Iterator[Connection]:
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    else:
        conn = bind.connection() if isinstance(bind, Session) else bind
        # Inside the caller's transaction (tests, seed with a Session): a savepoint per file.
        with conn.begin_nested():
            yield conn


def import_source_file(
    bind: Engine | Connection | Session, source: Source, *, progress: bool = False
) -> FileReport:
    """Import one CSV in one transaction (see the module docstring for the rules)."""
    with _transaction(bind) as conn:
        done = conn.execute(
            select(import_file.c.sha256).where(
                import_file.c.sha256 == source.sha256, import_file.c.member == source.member
            )
        ).first()
        if done:
            return FileReport(source.label, source.kind.name, source.file_date, skipped=True)
        report = _FileImport(conn, source, progress).run()
        conn.execute(
            insert(import_file).values(
                sha256=source.sha256, member=source.member, file_name=source.path.name,
                kind=source.kind.name, file_date=source.file_date, rows=report.rows,
                errors=len(report.errors), imported_at=naive_utcnow(),
            )
        )  # fmt: skip
        return report


def _plain(row: Row) -> Row:
    """JSON-ready copy of a row for an event (dates as ISO strings)."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}


class _FileImport:
    """The state of one file's import: municipalities seen, rows buffered, events collected."""

    def __init__(self, conn: Connection, source: Source, progress: bool) -> None:
        self.conn = conn
        self.source = source
        self.kind: Kind = source.kind
        self.table: Table = source.kind.table
        self.progress = progress
        self.report = FileReport(source.label, source.kind.name, source.file_date)
        self.stored: dict[str, date] = dict(
            conn.execute(
                select(import_source.c.lg_code, import_source.c.file_date).where(
                    import_source.c.kind == self.kind.name
                )
            ).all()
        )
        self.fresh: set[str] = set()  # municipalities loaded for the first time by this file
        self.incoming: dict[str, dict[Key, Row]] = {}  # rows of the others, compared at the end
        self.keys_seen: set[Key] = set()
        self.inserts: list[Row] = []
        self.updates: list[Row] = []
        self.events: list[Event] = []
        # The outbox is written through a Session on the file's connection; its own savepoint
        # is released (committed into the file's transaction) when the file is done.
        self.session = Session(bind=conn, join_transaction_mode="create_savepoint")
        self.provenance = {"source_file": source.path.name, "source_date": source.file_date}

    def run(self) -> FileReport:
        rows = self.source.rows()
        with tqdm(desc=self.source.label, unit=" rows", disable=not self.progress,
                  leave=False, mininterval=0.5) as bar:  # fmt: skip
            for _line, item in rows:
                bar.update()
                if isinstance(item, RowError):
                    self.report.errors.append(item)
                    continue
                self.report.rows += 1
                self._take(item)
                if len(self.inserts) >= BATCH or len(self.updates) >= BATCH:
                    self._flush()
        self._flush()
        self._compare()
        self._record_sources()
        self.session.commit()
        self.session.close()
        return self.report

    def _take(self, item: Row) -> None:
        lg_code = item["lg_code"]
        previous = self.stored.get(lg_code)
        if previous is not None and previous > self.source.file_date:
            self.report.superseded += 1
            return
        item.update(self.provenance, withdrawn_date=None)
        key = tuple(item[k] for k in self.kind.keys)
        # Real ABR files repeat some keys (e.g. 和歌山県 2026: 10 町字 twice, the later line with
        # the corrected flag); the later line wins, as it does for the database upsert.
        duplicate = key in self.keys_seen
        self.keys_seen.add(key)
        self.report.duplicates += duplicate
        if previous is None:
            self.fresh.add(lg_code)
            self.inserts.append(item)
            self.report.inserted += not duplicate
            return
        # Municipalities already loaded are compared once the whole file is read, so a
        # duplicate line is compared as the final version, not twice.
        self.incoming.setdefault(lg_code, {})[key] = item

    def _compare(self) -> None:
        """New, changed and withdrawn rows of the municipalities that were loaded before."""
        for lg_code, incoming in self.incoming.items():
            current = self._load(lg_code)
            for key, item in incoming.items():
                old = current.get(key)
                if old is None:
                    self.inserts.append(item)
                    self.report.inserted += 1
                    self._event("new", key, None, item)
                elif any(old[f] != item[f] for f in self.kind.fields) or old["withdrawn_date"]:
                    self.updates.append(item)
                    self.report.changed += 1
                    abolished = item.get("ablt_date") and not old.get("ablt_date")
                    self._event("abolished" if abolished else "changed", key, old, item)
                else:
                    self.report.unchanged += 1
                    if (old["source_file"], old["source_date"]) != (
                        item["source_file"], item["source_date"],
                    ):  # fmt: skip
                        self.updates.append(item)  # same content, newer provenance
            missing = [] if self.source.partial else current.items()
            for key, row in missing:
                if key not in incoming and row["withdrawn_date"] is None:
                    self.updates.append(row | {"withdrawn_date": self.source.file_date})
                    self.report.withdrawn += 1
                    self._event("abolished", key, row, None)
            self._flush()

    def _load(self, lg_code: str) -> dict[Key, Row]:
        rows = self.conn.execute(select(self.table).where(self.table.c.lg_code == lg_code))
        return {tuple(r[k] for k in self.kind.keys): dict(r) for r in rows.mappings()}

    def _event(self, change: str, key: Key, before: Row | None, after: Row | None) -> None:
        if self.kind.is_position:
            return
        fields = ("lg_code", *self.kind.keys[1:], *self.kind.fields)
        self.events.append(
            Event(
                topic=f"address.{self.kind.entity}.{change}",
                key="/".join(key).rstrip("/"),
                data={
                    "before": _plain({f: before[f] for f in fields}) if before else None,
                    "after": _plain({f: after[f] for f in fields}) if after else None,
                    "source_file": self.source.path.name,
                    "source_date": self.source.file_date.isoformat(),
                },
            )
        )

    def _flush(self) -> None:
        if self.inserts:
            _upsert(self.conn, self.table, self.kind.keys, self.inserts)
            self.inserts = []
        if self.updates:
            _update(self.conn, self.table, self.kind.keys, self.updates)
            self.updates = []
        if self.events:
            self.report.events += record_events(self.session, self.events)
            self.session.flush()
            self.events = []

    def _record_sources(self) -> None:
        now = naive_utcnow()
        values = {"file_name": self.source.path.name, "file_date": self.source.file_date,
                  "imported_at": now}  # fmt: skip
        if self.fresh:
            self.conn.execute(
                insert(import_source),
                [{"kind": self.kind.name, "lg_code": lg} | values for lg in sorted(self.fresh)],
            )
        if self.incoming:
            self.conn.execute(
                update(import_source)
                .where(import_source.c.kind == self.kind.name,
                       import_source.c.lg_code == bindparam("b_lg_code"))
                .values(values),
                [{"b_lg_code": lg} for lg in sorted(self.incoming)],
            )  # fmt: skip


def _upsert(conn: Connection, table: Table, keys: tuple[str, ...], rows: list[Row]) -> None:
    """Insert rows; a key seen twice in one file keeps the later line (ON CONFLICT UPDATE).

    The statement is compiled once and run through the driver's executemany: SQLAlchemy's
    per-row parameter processing was a third of the national import's time.
    """
    sql, order = _upsert_sql(conn.dialect, table, keys)
    if order is None:  # PostgreSQL: named parameters, dates passed as dates
        names = [c.name for c in table.c]
        conn.exec_driver_sql(sql, [{n: r.get(n) for n in names} for r in rows])
        return
    # SQLite: positional parameters; dates as ISO text, the storage format of SQLAlchemy's Date
    conn.exec_driver_sql(
        sql,
        [tuple(_iso(r.get(n)) for n in order) for r in rows],
    )


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@cache
def _upsert_sql(
    dialect: Dialect, table: Table, keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...] | None]:
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    else:  # pragma: no cover - tsunagu runs on SQLite and PostgreSQL only
        raise AddressImportError(f"unsupported database {dialect.name}")
    stmt = dialect_insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c.name: stmt.excluded[c.name] for c in table.c if c.name not in keys},
    )
    compiled = stmt.compile(dialect=dialect)
    if dialect.name == "sqlite":
        return str(compiled), tuple(compiled.positiontup or ())
    return str(compiled), None


def _update(conn: Connection, table: Table, keys: tuple[str, ...], rows: list[Row]) -> None:
    names = [c.name for c in table.c if c.name not in keys]
    # executemany UPDATE: the SET columns are the parameters named like columns.
    stmt = update(table).where(and_(*(table.c[k] == bindparam(f"b_{k}") for k in keys)))
    conn.execute(
        stmt, [{n: r.get(n) for n in names} | {f"b_{k}": r[k] for k in keys} for r in rows]
    )
