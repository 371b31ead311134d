"""Importing published corporation files: every row kept, history ordered, events recorded.

One file is one savepoint in the caller's transaction: rows that fail validation are reported
with their line numbers and stored in ``corporation_rejected_row`` while the rest loads; a
truncated file raises :class:`ImportProblem` and the savepoint is rolled back, so nothing of the
file stays. Re-importing a file already imported (same SHA-256) changes nothing, and a row
already known with the same content is counted unchanged. A row whose event key (number,
process, change date, update date, source) is known with *different* content is a conflicting
history: it is rejected and reported, the stored row stays. The first load into an empty
registry records no events (docs/architecture.md); later ones record one per corporation whose
current row changed.

A full (全件) file has about 5 million rows, so the file is read as a stream and stored in
batches of :data:`BATCH` rows: memory does not grow with the file. Per row, Python only
validates and computes the keys — in worker processes, one per core, for a file of
:data:`PARALLEL_MIN_BYTES` or more (a thread could not share that work out: it holds the GIL);
the rest is set-based SQL:

- **First load** (the registry is empty): the secondary indexes are dropped, the rows go
  straight into ``corporation_record`` (driver ``executemany`` on SQLite, ``COPY`` on
  PostgreSQL) marked current, and the indexes are built once at the end — a sort, not millions
  of index inserts. Rows repeating an event key within the file, and the ``current`` mark of a
  corporation with several rows, are then settled by queries.
- **Later loads**: the rows go into a temporary staging table; one query classifies each as
  new, unchanged or conflicting (stored rows by the event key's unique index, earlier rows of
  the file by a window); new rows are copied over, and one more query finds, for each
  corporation with a new row, the row that is now current — from which the events are written.
"""

from __future__ import annotations

import codecs
import csv
import gc
import hashlib
import io
import marshal
import multiprocessing
import os
import struct
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Index,
    MetaData,
    Result,
    Select,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tsunagu.db import record_events
from tsunagu.kernel import Event, Problem

from . import gbizinfo, nta
from .models import CorporationImport, CorporationRecord, CorporationRejectedRow
from .normalize import furigana_key, lg_code, name_key

# Rows parsed and stored at a time: bounds memory (a parsed row is about 3 KB in Python).
BATCH = 5000
# From this many records in a batch, PostgreSQL gets them by COPY rather than executemany.
COPY_MIN = 500
# Files from this size are read by worker processes (a 全件 file is over a gigabyte); starting
# them costs about half a second, more than a smaller file takes in this process.
PARALLEL_MIN_BYTES = 8 << 20
MAX_WORKERS = 4
# Problems kept in the report (and printed by the CLI); every rejected row is in the table.
PROBLEMS_KEPT = 1000
# What makes two rows of one event the same: every published column but latest, which ages.
CONTENT = tuple(c for c in nta.COLUMNS.values() if c != "latest")
SUMMARY = ("name", "prefecture_name", "city_name", "street_number", "address_outside",
           "post_code", "close_date", "successor_corporate_number", "process",
           "change_date")  # fmt: skip
EVENT_KEY = ("corporate_number", "process", "change_date", "update_date", "source")
UNIQUE_INDEX = "uq_corporation_record_event"
_SEEN_BITS = 1 << 27  # 16 MB


class ImportProblem(Problem):
    """A file that cannot be imported at all (truncated, not NTA layout)."""

    slug = "corporation-import-failed"
    title = "The corporation file cannot be imported"
    status = 422


@dataclass
class ImportReport:
    """What one import did; ``problems`` are ``(line, reason)`` in file order (the first
    :data:`PROBLEMS_KEPT`; ``rejected`` counts them all)."""

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


def _summary(values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {key: values[key] for key in SUMMARY}
    for key in ("close_date", "change_date"):
        out[key] = out[key].isoformat() if out[key] else None
    return out


def _topic(values: Any, before: Any) -> str:
    if values["correct"] and before is not None:
        return "corporation.record.corrected"
    return "corporation.record." + nta.PROCESSES[values["process"]]


Source = bytes | str | os.PathLike[str] | BinaryIO


@contextmanager
def _opened(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, bytes):
        yield io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield stream
    else:
        yield source


def _survey(stream: BinaryIO, *, large: bool = False) -> tuple[str, bool]:
    """The SHA-256 of the rest of ``stream`` and whether it is all UTF-8; the stream stays
    put. One read of the file for both: the hashing runs in a thread
    (``hashlib`` releases the GIL on large blocks) while this one checks the text (by Arrow
    if ``large``).
    """
    start = stream.tell()
    digest = hashlib.sha256()
    text = _Utf8Check(arrow=large)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="corporation-sha256") as hasher:
        while block := stream.read(nta.BLOCK):
            hashed = hasher.submit(digest.update, block)
            text.feed(block)
            hashed.result()
    stream.seek(start)
    return digest.hexdigest(), text.finish()


class _Utf8Check:
    """Whether bytes fed in blocks are all UTF-8, checked by Apache Arrow's validator.

    Python can only tell by decoding, which made a string of every block: 1.2 s for a
    900 MB file, against about 0.5 s here (docs/benchmarks.md). Each block is checked up to
    its last line end, so that no character is cut; the rest goes with the next block.
    Arrow's check is the strict one Python's codec applies (no surrogates, no overlong forms,
    nothing above U+10FFFF), tested against ``bytes.decode`` with random bytes. Without
    ``arrow`` (small files: the web app and CLI need not load Arrow for them) the codec checks.
    """

    def __init__(self, *, arrow: bool = True) -> None:
        self.pa: Any = None
        if arrow:
            import pyarrow as pa  # imported here: see _prepare_chunk

            self.pa = pa
        self.rest = b""
        self.valid = True

    def feed(self, block: bytes) -> None:
        if not self.valid:
            return
        start = 0
        if self.rest:  # the line the last block ended in, up to its end in this one
            start = block.find(b"\n") + 1
            if not start:
                self.rest += block
                return
            self.valid = self._check(memoryview(self.rest + block[:start]))
        end = block.rfind(b"\n") + 1
        if end > start:
            self.valid = self.valid and self._check(memoryview(block)[start:end])
        self.rest = block[max(start, end) :]

    def finish(self) -> bool:
        return self.valid and self._check(memoryview(self.rest))

    def _check(self, data: memoryview) -> bool:
        pa = self.pa
        if pa is None:
            try:
                codecs.utf_8_decode(data, "strict", True)
            except UnicodeDecodeError:
                return False
            return True
        offsets = pa.py_buffer(struct.pack("<ii", 0, len(data)))
        text = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(data)])
        try:
            text.validate(full=True)
        except pa.ArrowInvalid:
            return False
        return True


def default_workers(size: int) -> int:
    """Worker processes for a file of ``size`` bytes: one per core (at most
    :data:`MAX_WORKERS`) from :data:`PARALLEL_MIN_BYTES` on a machine with several, else none."""
    cores = os.cpu_count() or 1
    return min(cores, MAX_WORKERS) if size >= PARALLEL_MIN_BYTES and cores > 1 else 0


def import_file(
    session: Session,
    data: Source,
    file_name: str,
    *,
    encoding: str | None = None,
    progress: Callable[[int], object] | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import one NTA CSV/XML file or gBizINFO response in the caller's transaction.

    ``data`` is the file's bytes, its path, or a seekable binary stream; a path or stream is
    read in blocks, never whole (gBizINFO answers, which are small JSON, excepted).
    ``progress`` is called with the number of rows read after each batch. ``workers`` is the
    number of processes that read and key a CSV file's rows while this one stores them (0: this
    process does all, with one thread reading ahead; None: :func:`default_workers` of the
    file's size).
    """
    report = ImportReport(file_name)
    with _opened(data) as stream, ExitStack() as stack:
        start = stream.tell()
        head = stream.read(4096)
        size = stream.seek(0, os.SEEK_END) - start
        stream.seek(start)
        if workers is None:
            workers = default_workers(size)
        json = head.lstrip().startswith(b"{")  # perhaps a gBizINFO answer
        pool = None
        if workers > 0 and not json and not nta.is_xml(head):
            # A CSV file for worker processes: they start (and import Arrow) while this one
            # reads the file for its SHA-256, not after.
            binary = session.get_bind().dialect.name == "postgresql"
            pool = stack.enter_context(_worker_pool(workers, binary=binary))
        sha, utf8 = _survey(stream, large=size >= PARALLEL_MIN_BYTES)
        if session.scalar(select(CorporationImport.id).where(CorporationImport.sha256 == sha)):
            report.already_imported = True
            return report
        try:
            if json:
                whole = stream.read()
                stream.seek(start)
                if gbizinfo.is_gbizinfo(whole):
                    parsed = gbizinfo.parse_gbizinfo(whole)
                    return _import(session, parsed, file_name, sha, "gbizinfo", progress)
            # All UTF-8 is UTF-8 by nta.choose_encoding's rule too: no second reading for it.
            reader = nta.open_file(stream, encoding or ("utf-8" if utf8 else None))
            return _import(session, reader, file_name, sha, "nta", progress, pool)
        except nta.TruncatedFile as exc:
            raise ImportProblem(f"{file_name}: truncated file, nothing imported: {exc}") from None
        except ValueError as exc:  # NotNtaFile, or a gBizINFO envelope that is not one
            raise ImportProblem(f"{file_name}: not an NTA file, nothing imported: {exc}") from None


def import_parsed(
    session: Session,
    parsed: nta.Parsed,
    file_name: str,
    sha256: str,
    *,
    source: str = "nta",
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Store rows already parsed (see :func:`import_file`)."""
    return _import(session, parsed, file_name, sha256, source, progress)


def _import(
    session: Session,
    reader: nta.Reader,
    file_name: str,
    sha256: str,
    source: str,
    progress: Callable[[int], object] | None,
    pool: _Pool | None = None,
) -> ImportReport:
    report = ImportReport(file_name, reader.file_format)
    # A savepoint: a file found truncated after some batches were stored leaves nothing.
    with session.begin_nested():
        first_load = session.scalar(select(CorporationRecord.id).limit(1)) is None
        job = CorporationImport(file_name=file_name[-500:], sha256=sha256,
                                file_format=reader.file_format)  # fmt: skip
        session.add(job)
        session.flush()
        connection = session.connection()
        store: _Store = (
            _FirstLoad(connection, job.id, source)
            if first_load
            else _Staged(connection, job.id, source)
        )
        store.begin()
        bad: list[tuple[int, str]] = []
        copy = connection.dialect.name == "postgresql"
        if pool is not None and isinstance(reader, nta.CsvReader):
            prepared = _in_processes(reader, pool, job.id, source, current=first_load,
                                     binary=copy)  # fmt: skip
        else:  # one thread reads ahead while this one stores
            prepared = _ahead(_prepared(reader, job.id, source, current=first_load, copy=copy))
        with closing(prepared) as batches:
            for batch in batches:
                if batch.rejected:
                    connection.execute(insert(CorporationRejectedRow), batch.rejected)
                    report.rejected += len(batch.rejected)
                    if len(bad) < PROBLEMS_KEPT:
                        bad += [(r["line"], r["reason"]) for r in batch.rejected]
                store.write(batch)
                report.read += batch.read
                if progress:
                    progress(batch.read)
        conflicts = store.finish(session, report)
        report.rejected += len(conflicts)
        report.problems = sorted(bad[:PROBLEMS_KEPT] + conflicts[:PROBLEMS_KEPT])[:PROBLEMS_KEPT]
        header = reader.header
        job.last_update_date, job.declared_count = header.last_update_date, header.count
        job.rows_read, job.rows_inserted = report.read, report.inserted
        job.rows_unchanged, job.rows_rejected = report.unchanged, report.rejected
        session.flush()
    return report


@dataclass
class _Batch:
    read: int  # rows of the file
    records: list[tuple[Any, ...]]  # to store (none if ``copy`` or ``binary`` holds them)
    rejected: list[dict[str, Any]]  # corporation_rejected_row values
    copy: str = ""  # the records to store as COPY text (PostgreSQL)
    numbers: Sequence[str] = ()  # the corporate numbers of ``copy``'s or ``binary``'s records
    binary: bytes = b""  # the records as binary COPY rows (PostgreSQL), made by a worker process

    def corporate_numbers(self) -> Sequence[str]:
        if self.copy or self.binary:
            return self.numbers
        return [record[0] for record in self.records]


def _prepared(
    reader: nta.Reader, import_id: int, source: str, *, current: bool, copy: bool
) -> Iterator[_Batch]:
    """The file's rows read, validated and keyed, a batch at a time."""
    for batch in _batches(reader, BATCH):
        yield _batch(batch, import_id, source, current=current, copy=copy)


def _batch(
    rows: Sequence[nta.Row | nta.BadRow],
    import_id: int,
    source: str,
    *,
    current: bool,
    copy: bool,
) -> _Batch:
    """The rows as records to insert, or (``copy``, from :data:`COPY_MIN` rows) as the text
    PostgreSQL's COPY reads."""
    copy = copy and len(rows) >= COPY_MIN
    records: list[tuple[Any, ...]] = []
    rejected: list[dict[str, Any]] = []
    lines: list[str] = []
    numbers: list[str] = []
    for item in rows:
        if isinstance(item, nta.BadRow):
            rejected.append({"import_id": import_id, "line": item.line,
                             "reason": item.reason[:500], "raw": item.raw})  # fmt: skip
        elif not copy:
            records.append(_record(item, source, import_id, current=current))
        else:
            line = copy_line(item, source, import_id, current=current)
            if line is None:
                line = copy_csv([_record(item, source, import_id, current=current)])[:-1]
            lines.append(line)
            numbers.append(item.record[0])
    if copy:
        return _Batch(len(rows), [], rejected, "\n".join(lines) + "\n" if lines else "", numbers)
    return _Batch(len(rows), records, rejected)


@dataclass
class _Pool:
    """Worker processes (:func:`_worker_pool`) and how many there are."""

    executor: ProcessPoolExecutor
    workers: int


@contextmanager
def _worker_pool(workers: int, *, binary: bool) -> Iterator[_Pool]:
    """``workers`` fresh processes ("spawn"), not forks of one that may hold threads and
    connections, each started and importing what a chunk needs (with ``binary``, Arrow) right
    away; shut down after."""
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(workers, mp_context=context)
    try:
        for _ in range(workers):  # each submit starts a process while none is idle
            executor.submit(_warm_up, binary)
        yield _Pool(executor, workers)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _warm_up(binary: bool) -> None:
    """In a new worker process: import what reading a chunk needs (Arrow: about 0.2 s)."""
    if binary:
        from . import columnar  # noqa: F401 - imported for its side effect, see _prepare_chunk


def _in_processes(
    reader: nta.CsvReader,
    pool: _Pool,
    import_id: int,
    source: str,
    *,
    current: bool,
    binary: bool,
) -> Generator[_Batch, None, None]:
    """:func:`_prepared` of a CSV file with its chunks read, validated and keyed by the
    ``pool``'s processes, batches in file order; at most two chunks a worker are in flight.
    With ``binary`` (PostgreSQL) the records come as binary ``COPY`` rows (:mod:`.columnar`).

    Python's per-row work (csv, check digits, dates, name keys) holds the GIL, so a
    thread cannot share it out (:func:`_ahead` only overlaps it with the database); processes
    can.
    """
    pending: deque[Future[_Prepared]] = deque()
    chunks = reader.chunks()
    try:

        def submit() -> None:
            chunk = next(chunks, None)
            if chunk is not None:
                before, data, complete = chunk
                task = (reader.encoding, before, data, complete, import_id, source, current)
                pending.append(pool.executor.submit(_prepare_chunk, *task, binary))

        for _ in range(2 * pool.workers):
            submit()
        while pending:
            header, read, payload, numbers, rejected = pending.popleft().result()
            submit()
            reader.parsed(header, read)
            if binary:
                yield _Batch(read, [], rejected, numbers=numbers, binary=payload)
            else:
                # Bytes our own worker process made with marshal.dumps, never outside input.
                yield _Batch(read, marshal.loads(payload), rejected)  # noqa: S302
        reader.check_count()
    finally:
        # Done with them (or stopped early): the processes end now, not after the index builds
        # that follow (their memory back, no chunk left queued). Shutting down again is a no-op.
        pool.executor.shutdown(wait=True, cancel_futures=True)


# What a worker process sends back: header (if in the chunk), rows read, the records (binary
# COPY rows, or marshal's bytes: several times faster to load than pickle's for tuples of plain
# values, and both ends are the same Python), their numbers (with COPY rows), rejected rows.
_Prepared = tuple[nta.Header | None, int, bytes, list[str], list[dict[str, Any]]]


def _prepare_chunk(
    encoding: str,
    before: int,
    data: bytes,
    complete: bool,
    import_id: int,
    source: str,
    current: bool,
    binary: bool,
) -> _Prepared:
    """In a worker process: one chunk of a CSV file as :func:`_in_processes` wants it.

    With ``binary``, a chunk of whole data lines goes column by column through Arrow
    (:func:`columnar.encode_chunk`) where that is certain to read as :mod:`nta` does; any
    other chunk — the first (which may hold the header), the file's unterminated last line,
    one with a bad row — is read by :mod:`nta` and its records encoded after.

    Python's cyclic garbage collector is paused while the chunk is read: its rows (lists,
    tuples, strings) hold no cycles and go with their reference counts, but the collector,
    set off by every 700 new containers, walked them again and again — 14.1–15.1 µs a row in
    a worker with it, 11.2–11.8 without (docs/benchmarks.md). It runs again between chunks,
    as it was before, for anything else.
    """
    # Imported here, as in copy_binary: Arrow is only for PostgreSQL's imports, and every
    # process that imports this package (the web app, CLI, mesh nodes) would load it otherwise.
    from . import columnar

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if binary and before > 0 and complete:
            fast = columnar.encode_chunk(data, before, import_id, source, current=current,
                                         encoding=encoding)  # fmt: skip
            if fast is not None:
                rows, numbers = fast
                return None, len(numbers), rows, numbers, []
        header, read = nta.parse_chunk(encoding, before, data, complete=complete)
        batch = _batch(read, import_id, source, current=current, copy=False)
    finally:
        if was_enabled:
            gc.enable()
    if binary:
        records, numbers = batch.records, list(batch.corporate_numbers())
        return header, batch.read, columnar.encode_records(records), numbers, batch.rejected
    return header, batch.read, marshal.dumps(batch.records), [], batch.rejected


T = TypeVar("T")


def _ahead(items: Iterator[T]) -> Generator[T, None, None]:
    """``items``, each computed in a worker thread while the caller handles the one before.

    Reading and keying rows is Python (it holds the GIL); storing them is mostly the database
    (SQLite steps and PostgreSQL's COPY run without it), so the two overlap. One item ahead
    at most: memory stays two batches. An exception of the worker is raised here.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="corporation-import") as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item


def _batches(rows: Iterable[nta.Row | nta.BadRow], size: int) -> Iterator[list[Any]]:
    batch: list[nta.Row | nta.BadRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


RECORDS = _table(CorporationRecord)
# Every stored column but the generated id, in table order; a record tuple holds them all.
RECORD_COLUMNS = tuple(c.name for c in RECORDS.columns if c.name != "id")
# The published columns come first, in the NTA's order; then ours.
OURS = ("source", "current", "name_key", "furigana_key", "lg_code", "machiaza_id", "import_id",
        "line")  # fmt: skip
assert (*nta.COLUMNS.values(), *OURS) == RECORD_COLUMNS  # noqa: S101 - import-time layout check
_COLUMN_LIST = ", ".join(RECORD_COLUMNS)
# Nullable columns: COPY ... FORMAT csv reads their quoted empty value as NULL.
_NULLABLE = ", ".join(c.name for c in RECORDS.columns if c.nullable and c.name != "id")
# Text columns that are never NULL: an empty unquoted value (copy_line) is empty text.
_TEXT = ", ".join(c.name for c in RECORDS.columns
                  if not c.nullable and isinstance(c.type, String))  # fmt: skip
_NAME, _FURIGANA, _PREFECTURE, _CITY = (
    RECORD_COLUMNS.index(c) for c in ("name", "furigana", "prefecture_code", "city_code")
)


def _record(row: nta.Row, source: str, import_id: int, *, current: bool) -> tuple[Any, ...]:
    record = row.record
    return (*record, source, current, name_key(record[_NAME]), furigana_key(record[_FURIGANA]),
            lg_code(record[_PREFECTURE], record[_CITY]), None, import_id, row.line)  # fmt: skip


def insert_records(connection: Connection, records: list[tuple[Any, ...]],
                   table: str = "corporation_record") -> None:  # fmt: skip
    """Insert record tuples (:data:`RECORD_COLUMNS` order, dates as ISO text) with the driver.

    SQLAlchemy's per-parameter processing cost more than SQLite's own insert, so the values go
    to the driver as they are (SQLAlchemy's ``Date`` stores ISO text on SQLite too). PostgreSQL
    gets many by ``COPY`` in CSV written by the csv module: psycopg's ``write_row`` formatted
    each row in Python and cost more than the rest of the import's storing.
    """
    if not records:
        return
    if connection.dialect.name == "postgresql" and len(records) >= COPY_MIN:
        copy_text(connection, copy_csv(records), table)
        return
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    marks = ", ".join([mark] * len(RECORD_COLUMNS))
    # Table and column names are our own; values are bound parameters.
    sql = f"INSERT INTO {table} ({_COLUMN_LIST}) VALUES ({marks})"  # noqa: S608
    connection.exec_driver_sql(sql, records)


# Positions of cells in a CSV row (nta.FIELDS).
_SEQUENCE, _NAME_CELL, _PREFECTURE_CELL, _CITY_CELL, _FURIGANA_CELL, _HIHYOJI = (
    nta.FIELDS.index(f)
    for f in ("sequenceNumber", "name", "prefectureCode", "cityCode", "furigana", "hihyoji")
)


def copy_line(row: nta.Row, source: str, import_id: int, *, current: bool) -> str | None:
    """A CSV row as one line of :func:`copy_text`'s input, or None where that is not certain.

    The line is the row's own line as read, without its sequence number and 検索対象除外 flag,
    followed by the flag and our columns: PostgreSQL parses the 28 published cells in between
    itself, so they are not written out again here (the csv module's writer cost about a third
    of a worker's time per row, docs/benchmarks.md). That is only sound where PostgreSQL's CSV
    reading gives the very cells Python's csv module gave. The two differ only on a double
    quote that is not a field's own quoting: the csv module keeps one inside an unquoted field
    and turns a doubled one inside a quoted field into one, PostgreSQL starts or ends quoted
    text at each. So no stored cell (nor key) may contain a double quote, and the line must
    begin with the sequence number and a comma and end with a comma and the flag exactly as
    those cells read, for the cut to fall between cells; otherwise the caller writes the record
    out (:func:`copy_csv`). Empty unquoted cells are empty text, not NULL (``FORCE_NOT_NULL``).
    """
    cells, text = row.cells, row.text
    if len(cells) != len(nta.FIELDS) or not text:
        return None
    sequence, hihyoji = cells[_SEQUENCE], cells[_HIHYOJI]
    key, reading = name_key(cells[_NAME_CELL]), furigana_key(cells[_FURIGANA_CELL])
    if (
        any('"' in cell for cell in cells[_SEQUENCE + 1 :])  # every cell PostgreSQL reads
        or '"' in key
        or '"' in reading
        or not text.startswith(sequence + ",")
        or not text.endswith("," + hihyoji)
    ):
        return None
    code = lg_code(cells[_PREFECTURE_CELL], cells[_CITY_CELL]) or ""  # "" is NULL here
    published = text[len(sequence) + 1 : len(text) - len(hihyoji)]
    flag = "t" if row.record[nta.HIHYOJI] else "f"
    return (f'{published}{flag},"{source}",{"t" if current else "f"},'
            f'"{key}","{reading}",{code},,{import_id},{row.line}')  # fmt: skip


def copy_csv(records: Iterable[tuple[Any, ...]]) -> str:
    """Record tuples as the CSV text :func:`copy_text` sends to PostgreSQL."""
    buffer = io.StringIO()
    # Strings quoted (an empty one stays empty); None is a quoted empty value too, which
    # FORCE_NULL reads as NULL in the nullable columns; booleans and integers bare.
    csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows(records)
    return buffer.getvalue()


def copy_statement(table: str = "corporation_record") -> str:
    """The ``COPY`` statement that reads :func:`copy_csv`'s and :func:`copy_line`'s text."""
    return (f"COPY {table} ({_COLUMN_LIST}) FROM STDIN WITH (FORMAT csv, "
            f"FORCE_NULL ({_NULLABLE}), FORCE_NOT_NULL ({_TEXT}))")  # fmt: skip


def copy_text(connection: Connection, text: str, table: str = "corporation_record") -> None:
    """Store :func:`copy_csv`'s text on PostgreSQL by ``COPY``."""
    if not text:
        return
    dbapi: Any = connection.connection.dbapi_connection  # psycopg 3
    with dbapi.cursor() as cursor, cursor.copy(copy_statement(table)) as copy:
        copy.write(text)


def copy_binary(
    connection: Connection, blocks: Iterable[bytes], table: str = "corporation_record"
) -> None:
    """Store binary ``COPY`` rows (:mod:`.columnar`), given in blocks, on PostgreSQL."""
    from . import columnar  # see _prepare_chunk

    dbapi: Any = connection.connection.dbapi_connection  # psycopg 3
    header, trailer = columnar.frame()
    with dbapi.cursor() as cursor, cursor.copy(columnar.copy_statement(table)) as copy:
        # Written as they come rather than joined: no copy of a chunk's megabytes.
        copy.write(header)
        for block in blocks:
            copy.write(block)
        copy.write(trailer)


def _store(connection: Connection, batch: _Batch, table: str) -> None:
    if batch.binary:
        copy_binary(connection, (batch.binary,), table)
    elif batch.copy:
        copy_text(connection, batch.copy, table)
    else:
        insert_records(connection, batch.records, table)


# Every SQL text below is built from this module's own table and column names; values are
# bound parameters.

# --- Storing -------------------------------------------------------------------------------

_ORDER = "(r.source = 'nta') DESC, r.change_date DESC, r.update_date DESC, r.id DESC"
_SAME_KEY = " AND ".join(f"r.{c} = s.{c}" for c in EVENT_KEY)
_PARTITION = ", ".join(f"s.{c}" for c in EVENT_KEY)
# Equality that holds between two NULLs too, as each database spells it.
_IS = {"sqlite": "IS", "postgresql": "IS NOT DISTINCT FROM"}


def _same_content(dialect: str, left: str, right: str) -> str:
    """SQL that is true where two rows hold the same :data:`CONTENT`: ``left`` and ``right``
    spell a column ``{c}`` of each (a column, or a window function of one).

    Compared column by column rather than by a stored hash of the row: a hash, 65 bytes of
    every stored row's 292 and a SHA-256 a row in the import, cost more than comparing the
    few rows that share an event key (docs/benchmarks.md).
    """
    same = _IS[dialect]
    return "(" + " AND ".join(f"{left.format(c=c)} {same} {right.format(c=c)}"
                              for c in CONTENT) + ")"  # fmt: skip


def _like_records(name: str, *extra: Column[Any]) -> Table:
    """A temporary table with the record columns (without id) and the same types."""
    columns = [Column(c.name, c.type) for c in RECORDS.columns if c.name != "id"]
    return Table(name, MetaData(), *columns, *extra, prefixes=["TEMPORARY"])


class _Store:
    def __init__(self, connection: Connection, import_id: int, source: str) -> None:
        self.connection = connection
        self.import_id = import_id
        self.source = source

    def begin(self) -> None:
        raise NotImplementedError

    def write(self, batch: _Batch) -> None:
        raise NotImplementedError

    def finish(self, session: Session, report: ImportReport) -> list[tuple[int, str]]:
        """Settle what the rows mean; fill ``report``; return the conflicts' problems."""
        raise NotImplementedError

    def _reject_conflicts(self, rows: Iterable[Any]) -> list[tuple[int, str]]:
        """Keep conflicting rows (with their values, as the file gave them) in the rejected
        table; returns the first :data:`PROBLEMS_KEPT` problems."""
        problems: list[tuple[int, str]] = []
        kept: list[dict[str, Any]] = []
        for row in rows:
            reason = (f"conflicting history: {row.corporate_number} process {row.process} "
                      f"changed {row.change_date} updated {row.update_date} is already stored "
                      "with other content")  # fmt: skip
            values = {key: row._mapping[key] for key in nta.COLUMNS.values()}
            kept.append({"import_id": self.import_id, "line": row.line, "reason": reason,
                         "raw": repr(values)})  # fmt: skip
            if len(problems) < PROBLEMS_KEPT:
                problems.append((row.line, reason))
            if len(kept) == BATCH:
                self.connection.execute(insert(CorporationRejectedRow), kept)
                kept = []
        if kept:
            self.connection.execute(insert(CorporationRejectedRow), kept)
        return problems


def _streamed(connection: Connection, statement: Select[Any]) -> Result[Any]:
    # A server-side cursor on PostgreSQL: the rows of a 5-million-row file are not all fetched.
    options = {"stream_results": True, "max_row_buffer": BATCH}
    return connection.execute(statement, execution_options=options)


# The columns the registry's queries filter, join or sort on (the indexes' columns and partial
# conditions among them): a first load's ANALYZE gathers statistics of these only, 0.2 to 0.3 s
# instead of 0.5 to 0.9 s for all 38 at 1,000,000 rows (docs/benchmarks.md). The millions of new
# rows set off autovacuum's own ANALYZE of every column soon after.
PLANNED = ("id", "corporate_number", "process", "change_date", "update_date", "source",
           "current", "hihyoji", "close_date", "name_key", "furigana_key", "lg_code",
           "machiaza_id")  # fmt: skip


# Every row of a first load went in as current; a corporation with several rows keeps the mark
# on its best only (see services.as_of for the order): the others, all among the suspects'
# rows, lose it, and only those rows are written (rewriting every suspect's rows took 5.6 to
# 6.1 s on PostgreSQL and 1.7 s on SQLite at 5,000,000 rows with about 92,000 suspects; this,
# 1.0 and 0.25 s). PostgreSQL, with no statistics of the new rows yet, planned the first form
# as scans of the whole table (19 s); LATERAL makes it read each suspect's rows by the unique
# index. docs/benchmarks.md (Corporate registry).
_UNMARK = {
    "sqlite": 'UPDATE corporation_record SET "current" = FALSE WHERE corporate_number IN '  # noqa: S608
    "(SELECT corporate_number FROM corp_suspect) AND id != (SELECT r.id FROM corporation_record "
    f"r WHERE r.corporate_number = corporation_record.corporate_number ORDER BY {_ORDER} LIMIT 1)",
    "postgresql": 'UPDATE corporation_record SET "current" = FALSE WHERE id IN (SELECT later.id '  # noqa: S608
    "FROM corp_suspect s CROSS JOIN LATERAL (SELECT r.id FROM corporation_record r WHERE "
    f"r.corporate_number = s.corporate_number ORDER BY {_ORDER} OFFSET 1) later)",
}


class _BitSet:
    """Corporate numbers met so far, as one bit each of a fixed-size set (NumPy).

    A batch's numbers are looked up and added a batch at a time rather than one by one in
    Python: that loop was most of the importing process's own time in a first load
    (docs/benchmarks.md). A number's bit is the top bits of the number times 2**64/φ
    (Fibonacci hashing), which spreads any numbers, sequential ones too, evenly over the set.
    """

    _GOLDEN = 0x9E3779B97F4A7C15

    def __init__(self, bits: int) -> None:
        import numpy as np  # only imports use it, as with columnar (see _prepare_chunk)

        if bits < 8 or bits & (bits - 1):
            raise ValueError(f"a bit set of {bits} bits: a power of two from 8 is needed")
        self.np = np
        self.bytes = np.zeros(bits // 8, np.uint8)
        self.shift = np.uint64(64 - (bits.bit_length() - 1))

    def suspects(self, numbers: Sequence[str]) -> list[str]:
        """Add ``numbers`` in order; return those whose bit was set before: every number met
        earlier (here or in an earlier call), and a few others that share a bit with one."""
        if not numbers:
            return []
        np = self.np
        values = np.fromiter(map(int, numbers), np.uint64, len(numbers))
        with np.errstate(over="ignore"):  # the product is meant modulo 2**64
            bits = (values * np.uint64(self._GOLDEN)) >> self.shift
        where, mask = bits >> np.uint64(3), np.left_shift(1, bits & np.uint64(7)).astype(np.uint8)
        met = (self.bytes[where] & mask) != 0
        # Within the batch, every number after the first with its bit was met before too.
        first = np.zeros(len(bits), bool)
        first[np.unique(bits, return_index=True)[1]] = True
        np.bitwise_or.at(self.bytes, where, mask)
        return [numbers[i] for i in np.flatnonzero(met | ~first)]


class _FirstLoad(_Store):
    """Into an empty registry: straight into the table, indexes built once at the end."""

    def __init__(self, connection: Connection, import_id: int, source: str) -> None:
        super().__init__(connection, import_id, source)
        self.written = 0
        self.suspected = 0
        # Numbers met before, as bits of their hash: a 全件 file has about 5 million distinct
        # numbers, too many to keep as a set (hundreds of MB); a bit set of fixed size never
        # misses a number met twice and wrongly suspects only a few percent, whose rows the
        # last query then reads.
        self.seen = _BitSet(_SEEN_BITS)
        self.suspects = Table("corp_suspect", MetaData(),
                              Column("corporate_number", RECORDS.c.corporate_number.type),
                              prefixes=["TEMPORARY"])  # fmt: skip

    def begin(self) -> None:
        # Dropped inside the import's savepoint: a failed import gets them back.
        for index in RECORDS.indexes:
            index.drop(self.connection)
        if self.connection.dialect.name == "postgresql":
            # Index builds sort in memory up to this (default 64 MB), for this transaction only.
            self.connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            # The queries below run once on a table without statistics, whose size the planner
            # overestimates by orders of magnitude: compiling them (JIT) cost 0.2 s and gained
            # nothing.
            self.connection.exec_driver_sql("SET LOCAL jit = off")
        self.suspects.drop(self.connection, checkfirst=True)
        self.suspects.create(self.connection)

    def write(self, batch: _Batch) -> None:
        _store(self.connection, batch, "corporation_record")
        self.note(batch.corporate_numbers())

    def note(self, numbers: Sequence[str]) -> None:
        """Count the stored rows of ``numbers``; keep those perhaps met before as suspects."""
        self.written += len(numbers)
        suspects = [{"corporate_number": number} for number in self.seen.suspects(numbers)]
        if suspects:
            self.connection.execute(insert(self.suspects), suspects)
            self.suspected += len(suspects)

    def finish(self, session: Session, report: ImportReport) -> list[tuple[int, str]]:
        unique = next(i for i in RECORDS.indexes if i.name == UNIQUE_INDEX)
        conflicts: list[tuple[int, str]] = []
        repeats = 0
        try:
            with self.connection.begin_nested():
                unique.create(self.connection)
        except IntegrityError:  # the file repeats an event key: settle it, then index
            conflicts, repeats = self._drop_repeats(report)
            unique.create(self.connection)
        report.inserted = self.written - repeats
        if self.suspected:
            self.connection.exec_driver_sql(_UNMARK[self.connection.dialect.name])
        self.suspects.drop(self.connection)
        for index in sorted(RECORDS.indexes, key=lambda i: str(i.name)):
            if index is not unique:
                index.create(self.connection)
        if self.connection.dialect.name == "postgresql":
            # Millions of rows the planner has not seen: the next import's queries need them.
            self.connection.exec_driver_sql(f"ANALYZE corporation_record ({', '.join(PLANNED)})")
        return conflicts

    def _drop_repeats(self, report: ImportReport) -> tuple[list[tuple[int, str]], int]:
        """Rows repeating an earlier row's event key: unchanged if the same, else conflicts."""
        repeats = Table("corp_repeat", MetaData(), Column("id", RECORDS.c.id.type),
                        Column("same", RECORDS.c.current.type), prefixes=["TEMPORARY"])  # fmt: skip
        repeats.drop(self.connection, checkfirst=True)
        repeats.create(self.connection)
        partition = ", ".join(EVENT_KEY)
        same = _same_content(self.connection.dialect.name, "FIRST_VALUE({c}) OVER w", "{c}")
        self.connection.exec_driver_sql(
            "INSERT INTO corp_repeat (id, same) SELECT id, same FROM "  # noqa: S608
            f"(SELECT id, {same} AS same, ROW_NUMBER() OVER w AS n "
            f"FROM corporation_record WINDOW w AS (PARTITION BY {partition} ORDER BY id)) t "
            "WHERE n > 1"
        )
        report.unchanged += (
            self.connection.scalar(
                select(func.count()).select_from(repeats).where(repeats.c.same.is_(True))
            )
            or 0
        )
        conflicting = (
            select(RECORDS).join(repeats, repeats.c.id == RECORDS.c.id)
            .where(repeats.c.same.is_(False)).order_by(RECORDS.c.id)
        )  # fmt: skip
        problems = self._reject_conflicts(_streamed(self.connection, conflicting))
        deleted = self.connection.exec_driver_sql(
            "DELETE FROM corporation_record WHERE id IN (SELECT id FROM corp_repeat)"
        )
        repeats.drop(self.connection)
        return problems, deleted.rowcount


class _Staged(_Store):
    """Into a registry that holds rows: through a staging table, settled by queries."""

    def __init__(self, connection: Connection, import_id: int, source: str) -> None:
        super().__init__(connection, import_id, source)
        self.stage = _like_records("corp_stage")
        self.sorted = _like_records("corp_sorted", Column("status", RECORDS.c.process.type))
        number, row_id = RECORDS.c.corporate_number.type, RECORDS.c.id.type
        # Per corporation with new rows: the line of the new row that becomes current (None
        # if its current row stays) and the id of its current row (None if it had none).
        self.winner = Table("corp_winner", MetaData(), Column("corporate_number", number),
                            Column("best_line", RECORDS.c.line.type), Column("old_id", row_id),
                            prefixes=["TEMPORARY"])  # fmt: skip
        Index("corp_winner_line", self.winner.c.best_line)  # created with the table
        self.temporary = (self.stage, self.sorted, self.winner)

    def begin(self) -> None:
        for table in self.temporary:
            table.drop(self.connection, checkfirst=True)
            table.create(self.connection)

    def write(self, batch: _Batch) -> None:
        _store(self.connection, batch, "corp_stage")

    def finish(self, session: Session, report: ImportReport) -> list[tuple[int, str]]:
        run = self.connection.exec_driver_sql
        if self.connection.dialect.name == "postgresql":
            run("ANALYZE corp_stage")  # temporary tables get no statistics of their own
        # n(ew), u(nchanged) or c(onflict): against the stored row of the same event key, else
        # against the first row of the file with that key.
        dialect = self.connection.dialect.name
        stored = _same_content(dialect, "r.{c}", "s.{c}")
        first = _same_content(dialect, "FIRST_VALUE(s.{c}) OVER w", "s.{c}")
        run(
            f"INSERT INTO corp_sorted ({_COLUMN_LIST}, status) SELECT "
            + ", ".join(f"s.{c}" for c in RECORD_COLUMNS)
            + f", CASE WHEN r.id IS NOT NULL THEN (CASE WHEN {stored} "
            f"THEN 'u' ELSE 'c' END) WHEN ROW_NUMBER() OVER w = 1 THEN 'n' "
            f"WHEN {first} THEN 'u' ELSE 'c' END "
            f"FROM corp_stage s LEFT JOIN corporation_record r ON {_SAME_KEY} "
            f"WINDOW w AS (PARTITION BY {_PARTITION} ORDER BY s.line)"
        )
        run("DELETE FROM corp_stage")
        status = self.sorted.c.status
        report.unchanged = (
            self.connection.scalar(
                select(func.count()).select_from(self.sorted).where(status == "u")
            )
            or 0
        )
        conflicting = select(self.sorted).where(status == "c").order_by(self.sorted.c.line)
        problems = self._reject_conflicts(_streamed(self.connection, conflicting))
        # For each corporation with a new row, the best of its new rows and its current row
        # (see services.as_of for the order; a new row wins a tie, a later line wins over an
        # earlier one) — before the new rows go in, so that they go in marked, and only the
        # superseded rows are updated. One pass with a window, not a sorted subquery per
        # corporation (which PostgreSQL may plan as a scan each).
        run(
            "INSERT INTO corp_winner (corporate_number, best_line, old_id) SELECT "
            "corporate_number, MAX(CASE WHEN place = 1 THEN line END), MAX(old_id) FROM (SELECT "
            "c.corporate_number, c.line, c.old_id, ROW_NUMBER() OVER (PARTITION BY "
            "c.corporate_number ORDER BY (c.source = 'nta') DESC, c.change_date DESC, "
            "c.update_date DESC, c.fresh DESC, c.tiebreak DESC) AS place FROM (SELECT "
            "s.corporate_number, s.line, NULL AS old_id, s.source, s.change_date, s.update_date, "
            "1 AS fresh, s.line AS tiebreak FROM corp_sorted s WHERE s.status = 'n' UNION ALL "
            "SELECT r.corporate_number, NULL, r.id, r.source, r.change_date, r.update_date, 0, "
            'r.id FROM corporation_record r WHERE r."current" AND r.corporate_number IN (SELECT '
            "corporate_number FROM corp_sorted WHERE status = 'n')) c) ranked "
            "GROUP BY corporate_number"
        )
        if self.connection.dialect.name == "postgresql":
            run("ANALYZE corp_winner")
        report.events = self._events(session)
        run('UPDATE corporation_record SET "current" = FALSE WHERE id IN (SELECT old_id FROM '
            "corp_winner WHERE best_line IS NOT NULL AND old_id IS NOT NULL)")  # fmt: skip
        values = ", ".join(
            "w.best_line IS NOT NULL" if c == "current" else f"s.{c}" for c in RECORD_COLUMNS
        )
        inserted = run(
            f"INSERT INTO corporation_record ({_COLUMN_LIST}) SELECT {values} "  # noqa: S608
            "FROM corp_sorted s LEFT JOIN corp_winner w ON w.best_line = s.line "
            "WHERE s.status = 'n' ORDER BY s.line"
        )
        report.inserted = inserted.rowcount
        for table in reversed(self.temporary):
            table.drop(self.connection)
        return problems

    def _events(self, session: Session) -> int:
        new, old, winner = self.sorted, RECORDS.alias("old"), self.winner
        changed = (
            select(new, *(old.c[key].label(f"old_{key}") for key in ("id", *SUMMARY)))
            .join(winner, winner.c.best_line == new.c.line)
            .outerjoin(old, old.c.id == winner.c.old_id)
            .order_by(new.c.line)
        )
        count = 0
        result = _streamed(self.connection, changed)
        for rows in result.partitions(BATCH):
            events = []
            for row in rows:
                values = row._mapping
                before = None
                if row.old_id is not None:
                    before = {key: values[f"old_{key}"] for key in SUMMARY}
                events.append(Event(
                    topic=_topic(values, before), key=row.corporate_number,
                    data={"before": _summary(before) if before is not None else None,
                          "after": _summary(values), "correct": values["correct"],
                          "update_date": values["update_date"].isoformat()},
                ))  # fmt: skip
            count += record_events(session, events)
        return count


def import_many(
    session: Session, files: Iterable[tuple[str, Source]], **options: Any
) -> list[ImportReport]:
    """Import several files in order, each in the caller's transaction."""
    return [import_file(session, data, name, **options) for name, data in files]
