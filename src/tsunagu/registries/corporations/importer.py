"""Importing published corporation files: every row kept, history ordered, events recorded.

One file is one transaction: rows that fail validation are reported with their line numbers and
stored in ``corporation_rejected_row`` while the rest loads; a truncated file raises
:class:`ImportProblem` before anything is written. Re-importing a file already imported (same
SHA-256) changes nothing, and a row already known with the same content is counted unchanged.
A row whose event key (number, process, change date, update date) is known with *different*
content is a conflicting history: it is rejected and reported, the stored row stays. The first
load into an empty registry records no events (docs/architecture.md); later ones record one
per corporation whose current row changed.

A full (全件) file has millions of rows, so the per-row work is kept to plain tuples: records
go to the database through the driver's ``executemany`` (SQLite, small PostgreSQL imports) or
PostgreSQL ``COPY`` (:data:`COPY_MIN` new rows or more in a batch) — the same rows either way.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.orm import Session

from tsunagu.db import record_events
from tsunagu.kernel import Event, Problem

from . import gbizinfo, nta
from .models import CorporationImport, CorporationRecord, CorporationRejectedRow
from .normalize import furigana_key, lg_code, name_key

BATCH = 2000
# From this many new records in a batch, PostgreSQL gets them by COPY rather than executemany.
COPY_MIN = 500
HASHED = tuple(c for c in nta.COLUMNS.values() if c != "latest")  # latest changes with time
SUMMARY = ("name", "prefecture_name", "city_name", "street_number", "address_outside",
           "post_code", "close_date", "successor_corporate_number", "process",
           "change_date")  # fmt: skip


class ImportProblem(Problem):
    """A file that cannot be imported at all (truncated, not NTA layout)."""

    slug = "corporation-import-failed"
    title = "The corporation file cannot be imported"
    status = 422


@dataclass
class ImportReport:
    """What one import did; ``problems`` are ``(line, reason)`` in file order."""

    file_name: str
    file_format: str = ""
    already_imported: bool = False
    read: int = 0
    inserted: int = 0
    unchanged: int = 0
    rejected: int = 0
    events: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        if self.already_imported:
            return f"{self.file_name}: already imported, nothing changed"
        return (
            f"{self.file_name} ({self.file_format}): {self.read} rows, {self.inserted} new, "
            f"{self.unchanged} unchanged, {self.rejected} rejected, {self.events} events"
        )


def row_hash(values: dict[str, Any]) -> str:
    """Fingerprint of a row's published content (without ``latest``, which ages)."""
    parts = list(_hashed(values))
    try:
        # Validated rows hold text except in a few known columns: convert only those.
        for index in _NOT_TEXT:
            value = parts[index]
            parts[index] = "" if value is None else str(value)
        text = "\x1f".join(parts)
    except TypeError:  # not a validated row: convert every value
        text = "\x1f".join("" if v is None else str(v) for v in _hashed(values))
    return hashlib.sha256(text.encode()).hexdigest()


_hashed = operator.itemgetter(*HASHED)
_DATES = ("update_date", "change_date", "close_date", "assignment_date")
_NOT_TEXT = tuple(i for i, c in enumerate(HASHED) if c in {*_DATES, "correct", "hihyoji"})


def _sort_key(values: dict[str, Any] | Any) -> tuple[bool, Any, Any]:
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
    # Any NTA row outranks a gBizINFO copy; then the change date; a correction (later update
    # date) of the same change replaces what it corrects.
    return (get("source") == "nta", get("change_date"), get("update_date"))


def _summary(values: dict[str, Any] | Any) -> dict[str, Any]:
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
    out: dict[str, Any] = {key: get(key) for key in SUMMARY}
    for key in ("close_date", "change_date"):
        out[key] = out[key].isoformat() if out[key] else None
    return out


def _topic(values: dict[str, Any], before: Any) -> str:
    if values["correct"] and before is not None:
        return "corporation.record.corrected"
    return "corporation.record." + nta.PROCESSES[values["process"]]


def import_file(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    encoding: str | None = None,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Import one NTA CSV/XML file or gBizINFO response in the caller's transaction."""
    sha = hashlib.sha256(data).hexdigest()
    report = ImportReport(file_name)
    if session.scalar(select(CorporationImport.id).where(CorporationImport.sha256 == sha)):
        report.already_imported = True
        return report
    try:
        if gbizinfo.is_gbizinfo(data):
            parsed = gbizinfo.parse_gbizinfo(data)
            return import_parsed(session, parsed, file_name, sha, source="gbizinfo",
                                 progress=progress)  # fmt: skip
        parsed = nta.parse_file(data, encoding)
    except nta.TruncatedFile as exc:
        raise ImportProblem(f"{file_name}: truncated file, nothing imported: {exc}") from None
    except ValueError as exc:
        raise ImportProblem(f"{file_name}: not an NTA file, nothing imported: {exc}") from None
    return import_parsed(session, parsed, file_name, sha, progress=progress)


def import_parsed(
    session: Session,
    parsed: nta.Parsed,
    file_name: str,
    sha256: str,
    *,
    source: str = "nta",
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Store parsed rows (see :func:`import_file`)."""
    report = ImportReport(file_name, parsed.file_format, read=len(parsed.rows))
    first_load = session.scalar(select(CorporationRecord.id).limit(1)) is None
    job = CorporationImport(
        file_name=file_name[-500:], sha256=sha256, file_format=parsed.file_format,
        last_update_date=parsed.header.last_update_date, declared_count=parsed.header.count,
    )  # fmt: skip
    session.add(job)
    session.flush()
    state = _State(job.id, source, first_load)
    rejected: list[dict[str, Any]] = []
    for start in range(0, len(parsed.rows), BATCH):
        batch = parsed.rows[start : start + BATCH]
        rows: list[nta.Row] = []
        for item in batch:
            if isinstance(item, nta.BadRow):
                rejected.append({"line": item.line, "reason": item.reason[:500], "raw": item.raw})
            else:
                rows.append(item)
        rejected += _store_batch(session, rows, state, report)
        if progress:
            progress(len(batch))
    if rejected:
        session.execute(
            insert(CorporationRejectedRow), [r | {"import_id": job.id} for r in rejected]
        )
    report.rejected = len(rejected)
    report.problems = sorted((r["line"], r["reason"]) for r in rejected)
    job.rows_read, job.rows_inserted = report.read, report.inserted
    job.rows_unchanged, job.rows_rejected = report.unchanged, report.rejected
    session.flush()
    return report


@dataclass
class _State:
    """What one import carries from batch to batch."""

    import_id: int
    source: str
    # The registry was empty when the import began: no events, and only numbers met in an
    # earlier batch of this file (``seen``) can be stored already — no lookup for the rest.
    first_load: bool
    seen: set[str] = field(default_factory=set)


R = CorporationRecord
# What a batch needs of the stored rows of its numbers: event keys and hashes, the current row
# (id, ranking and the event summary). Columns, not ORM objects: a re-imported full file
# touches millions of rows.
_STORED = (R.id, R.corporate_number, R.process, R.change_date, R.update_date, R.source,
           R.row_hash, R.current, *(getattr(R, c) for c in SUMMARY if c not in
                                    ("process", "change_date")))  # fmt: skip


def _store_batch(
    session: Session, rows: Sequence[nta.Row], state: _State, report: ImportReport
) -> list[dict[str, Any]]:
    """Insert new rows, move the ``current`` mark, record events; returns conflicting rows."""
    source = state.source
    numbers = {row.values["corporate_number"] for row in rows}
    if state.first_load:
        lookup = numbers & state.seen
        state.seen |= numbers
    else:
        lookup = numbers
    known: dict[tuple[str, str, date, date, str], str] = {}
    current: dict[str, Any] = {}
    if lookup:
        for rec in session.execute(select(*_STORED).where(R.corporate_number.in_(lookup))):
            known[(rec.corporate_number, rec.process, rec.change_date, rec.update_date,
                   rec.source)] = rec.row_hash  # fmt: skip
            if rec.current:
                current[rec.corporate_number] = rec
    conflicts: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    winners: dict[str, dict[str, Any]] = {}
    for row in rows:
        values = dict(row.values)
        values["source"] = source
        digest = row_hash(values)
        number = values["corporate_number"]
        key = (number, values["process"], values["change_date"], values["update_date"], source)
        seen = known.get(key)
        if seen == digest:
            report.unchanged += 1
            continue
        if seen is not None:
            conflicts.append(
                {
                    "line": row.line,
                    "raw": repr(dict(row.values)),
                    "reason": f"conflicting history: {key[0]} process {key[1]} changed "
                    f"{key[2]} updated {key[3]} is already stored with other content",
                }
            )
            continue
        known[key] = digest
        values.update(
            row_hash=digest, import_id=state.import_id, line=row.line, current=False,
            name_key=name_key(values["name"]), furigana_key=furigana_key(values["furigana"]),
            lg_code=lg_code(values["prefecture_code"], values["city_code"]), machiaza_id=None,
        )  # fmt: skip
        new.append(values)
        best = winners.get(number) or current.get(number)
        if best is None or _sort_key(values) >= _sort_key(best):
            winners[number] = values
    events = []
    superseded = []
    for number, values in winners.items():
        values["current"] = True
        before = current.get(number)
        if before is not None:
            superseded.append(before.id)
        if state.first_load:
            continue
        events.append(Event(
            topic=_topic(values, before), key=number,
            data={"before": _summary(before) if before is not None else None,
                  "after": _summary(values), "correct": values["correct"],
                  "update_date": values["update_date"].isoformat()},
        ))  # fmt: skip
    if superseded:
        session.execute(update(R).where(R.id.in_(superseded)).values(current=False))
    if new:
        insert_records(session.connection(), [_record(values) for values in new])
    report.inserted += len(new)
    report.events += record_events(session, events)
    return conflicts


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


# Every stored column but the generated id, in table order; a row's values must hold them all.
RECORD_COLUMNS = tuple(c.name for c in _table(CorporationRecord).columns if c.name != "id")
_record = operator.itemgetter(*RECORD_COLUMNS)
_DATE_COLUMNS = tuple(i for i, c in enumerate(RECORD_COLUMNS) if c in _DATES)


def insert_records(connection: Connection, records: list[tuple[Any, ...]]) -> None:
    """Insert record tuples (:data:`RECORD_COLUMNS` order) with the driver, bypassing the ORM.

    SQLAlchemy's per-parameter processing cost more than SQLite's own insert; the values are
    already the stored types, so they go to the driver as they are — on SQLite with dates as
    the ISO text SQLAlchemy's ``Date`` stores, on PostgreSQL by ``COPY`` when there are many.
    """
    names = ", ".join(RECORD_COLUMNS)
    if connection.dialect.name == "postgresql" and len(records) >= COPY_MIN:
        dbapi: Any = connection.connection.dbapi_connection  # psycopg 3
        statement = f"COPY corporation_record ({names}) FROM STDIN"
        with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
            for record in records:
                copy.write_row(record)
        return
    if connection.dialect.name == "sqlite":
        records = [_sqlite_dates(record) for record in records]
        marks = ", ".join("?" * len(RECORD_COLUMNS))
    else:
        marks = ", ".join(["%s"] * len(RECORD_COLUMNS))
    # Column names from our own table; values are bound parameters.
    sql = f"INSERT INTO corporation_record ({names}) VALUES ({marks})"  # noqa: S608
    connection.exec_driver_sql(sql, records)


def _sqlite_dates(record: tuple[Any, ...]) -> tuple[Any, ...]:
    out = list(record)
    for index in _DATE_COLUMNS:
        if out[index] is not None:
            out[index] = out[index].isoformat()
    return tuple(out)


def import_many(
    session: Session, files: Iterable[tuple[str, bytes]], **options: Any
) -> list[ImportReport]:
    """Import several files in order, each in the caller's transaction."""
    return [import_file(session, data, name, **options) for name, data in files]
