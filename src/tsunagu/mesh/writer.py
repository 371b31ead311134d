"""Group commit for the request path's writes: message-log rows, replay store, access records.

Every mesh round trip writes the message log on both nodes (the provider twice: admission with
the replay check and access rule, then the signed response). One transaction, one pool checkout
and one thread hop per write cost more CPU than the statements, and on SQLite concurrent
writers queue on the database lock with the busy handler's sleeps (1, 2, 5, 10 ... ms), which
at concurrency 16 made latency ten times the CPU time. Here a single writer thread takes every
write waiting in its queue, runs them in one transaction and commits once; each request awaits
the commit of the batch that holds its write, so a request still answers only after its log
rows are durable, exactly as before.

A job is a function of a Core connection. Its statements commit if and only if it returns
(exactly as one transaction per job would): if any job of a batch raises — a replayed message
id hits the unique index, a refusal — the batch is rolled back and each of its jobs runs again
in a transaction of its own, so one failure neither loses nor fails the others. Jobs must have
no effect outside the database (they may run twice).

A plain row write (:meth:`GroupWriter.run_row`: an INSERT or UPDATE whose result nobody
reads) is sent with its batch's other rows of the same statement in one ``executemany`` —
on PostgreSQL psycopg's pipeline, one wait for the server instead of one per row. Measured
(message-log inserts, 8 per transaction, 2026-11-27): 62 → 32 µs of the client's CPU a row
and 61 → 38 µs of PostgreSQL's.

On SQLite the batch runs in the event loop itself while the database's write lock is free: the
jobs queued during one turn of the loop run in one transaction at the end of that turn. SQLite
writes without a network round trip and, in WAL mode with ``synchronous=NORMAL``, commits
without waiting for the disk, so a batch costs about what the thread hops around it cost
(measured side by side, SQLite, concurrency 64: 574 → 690 round trips/s, each node's CPU 1.49
→ 1.23 ms per round trip; docs/benchmarks.md). The loop never waits for the lock: when
another connection holds it (the sealing worker, an import), or a job fails, the batch goes to
the writer thread as before, which waits and retries job by job. PostgreSQL always uses the
thread: its commit waits for the server and the disk. Two ways around the thread's GIL hand-offs
were measured there and were slower (docs/benchmarks.md, service mesh, paragraph 10): psycopg's
pipeline mode around a batch, and batches in the event loop on SQLAlchemy's asyncio engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from tsunagu.db import IMMEDIATE, begin_if_free, is_sqlite, outbox
from tsunagu.db.driver import DriverStatement

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH_LIMIT = 256  # jobs per transaction


class _Job:
    __slots__ = ("fn", "future", "loop", "row")

    def __init__(
        self,
        fn: Callable[[Connection], Any],
        future: asyncio.Future[Any],
        loop: Any,
        row: tuple[DriverStatement, dict[str, Any]] | None = None,
    ) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop
        self.row = row  # a plain row write: sent with the batch's others of its statement


def _run_jobs(connection: Connection, batch: list[_Job]) -> list[Any]:
    """The batch's jobs in ``connection``'s transaction, their results in order. Row jobs
    (:meth:`GroupWriter.run_row`) go last, each statement's rows in one ``executemany``: they
    write rows no other job of the batch touches (each is a request's own log row, and a
    request's next write waits for this batch's commit), so the order does not matter."""
    results: list[Any] = [None] * len(batch)
    rows: dict[int, tuple[DriverStatement, list[dict[str, Any]]]] = {}
    for i, job in enumerate(batch):
        if job.row is None:
            results[i] = job.fn(connection)
        else:
            statement, params = job.row
            rows.setdefault(id(statement), (statement, []))[1].append(params)
    for statement, many in rows.values():
        statement.execute_many(connection, many)
    return results


def _resolve(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.done():  # the request was cancelled meanwhile (its client went away)
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _deliver(outcomes: list[tuple[_Job, bool, Any]]) -> None:
    """Hand the outcomes to their event loops: one wake-up per loop and batch, not per job."""
    by_loop: dict[Any, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for job, ok, value in outcomes:
        by_loop.setdefault(job.loop, []).append((job.future, ok, value))
    for loop, items in by_loop.items():
        # A closed event loop (RuntimeError): nobody waits for the answer any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, items)


def _can_run_inline(engine: Engine) -> bool:
    """A SQLite file database with a connection of the writer's own (not one shared by all)."""
    return (
        is_sqlite(engine)
        and engine.url.database not in (None, "", ":memory:")
        and not isinstance(engine.pool, StaticPool | SingletonThreadPool)
    )


class GroupWriter:
    """Batches jobs into shared transactions: in the event loop (SQLite, write lock free) or
    in one writer thread (started on first use)."""

    def __init__(self, engine: Engine, *, inline: bool | None = None) -> None:
        # SQLite: take the write lock at BEGIN (a job may read before it writes).
        self.engine = engine.execution_options(**{IMMEDIATE: True})
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._held: Connection | None = None  # used by the writer thread only
        # Batches in the event loop: one loop at a time, with a connection of its own.
        self.inline = _can_run_inline(engine) if inline is None else inline
        self._inline_loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[_Job] = []  # queued in self._inline_loop, for its next flush
        self._inline_held: Connection | None = None  # used in self._inline_loop only
        self.batches = 0  # for tests and the benchmark: transactions committed
        self.jobs = 0
        self.inline_batches = 0  # of ``batches``, those committed in the event loop

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(connection)`` in the next batch; its result once the batch is committed."""
        return await self._submit(fn, None)

    async def run_row(
        self,
        statement: DriverStatement,
        values: dict[str, Any],
        alone: Callable[[Connection], Any],
    ) -> None:
        """Write one row with ``statement`` (an INSERT or UPDATE without RETURNING) in the next
        batch, sent with the batch's other rows of that statement; returns once committed.

        A failure (a constraint) fails the batch's rows together; then, as for any failing
        job, each job runs again in a transaction of its own, this one as ``alone`` (the same
        write, one row, raising what the caller expects) — the error reaches only the request
        whose row caused it.
        """
        await self._submit(alone, (statement, values))

    async def _submit(
        self, fn: Callable[[Connection], T], row: tuple[DriverStatement, dict[str, Any]] | None
    ) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job = _Job(fn, future, loop, row)
        if self.inline and (self._inline_loop is loop or self._adopt(loop)):
            self._pending.append(job)
            if len(self._pending) == 1:  # the first of this turn: flush at its end
                loop.call_soon(self._flush)
        else:
            self._to_thread([job])
        return await future

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Make ``loop`` the one whose batches run inline, unless another live loop is."""
        with self._lock:
            current = self._inline_loop
            if current is not None and current is not loop and not current.is_closed():
                return False
            if current is not loop:
                self._drop_inline()  # the last loop's (closed) connection
                self._pending = []
                self._inline_loop = loop
            return True

    def _to_thread(self, jobs: list[_Job]) -> None:
        self._ensure_started()
        for job in jobs:
            self._queue.put(job)

    def _flush(self) -> None:
        """In the event loop: this turn's jobs in one transaction, or to the thread."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        results = self._run_inline(batch)
        if results is None:  # the lock is taken, a job failed, or the connection broke
            self._to_thread(batch)
            return
        self.batches += 1
        self.inline_batches += 1
        self.jobs += len(batch)
        _resolve([(job.future, True, value) for job, value in zip(batch, results, strict=True)])

    def _run_inline(self, batch: list[_Job]) -> list[Any] | None:
        """The jobs' results once committed; None, having changed nothing, if it cannot."""
        try:
            if self._inline_held is None or self._inline_held.invalidated:
                self._drop_inline()
                self._inline_held = self.engine.connect()
            connection = self._inline_held
            transaction = begin_if_free(connection)
            if transaction is None:  # another connection writes: the thread waits for it
                return None
        except Exception:  # no connection, or BEGIN failed otherwise: the thread's way
            log.debug("message-log writer: no batch in the event loop", exc_info=True)
            self._drop_inline()
            return None
        try:
            with transaction:
                try:
                    results = _run_jobs(connection, batch)
                except Exception:  # the thread runs each job on its own
                    transaction.rollback()
                    return None
        except Exception:  # the commit or the rollback failed: a new connection next time
            log.debug("message-log writer: batch in the event loop failed", exc_info=True)
            self._drop_inline()
            return None
        outbox.signal_committed(connection)  # access records: wake the worker
        return results

    def _drop_inline(self) -> None:
        held, self._inline_held = self._inline_held, None
        if held is not None:
            with contextlib.suppress(Exception):
                held.close()

    def _ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="tsunagu-mesh-writer", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        """Finish the queued jobs and stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._drop_inline()
            self._inline_loop = None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout=10)

    def _loop(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < BATCH_LIMIT:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                try:
                    self._run_batch(batch)
                except Exception as exc:  # the writer must not die: fail the batch, go on
                    log.exception("message-log writer: batch failed")
                    self._drop_connection()
                    _deliver([(job, False, exc) for job in batch])
                if stop:
                    return
        finally:
            self._drop_connection()

    def _connection(self) -> Connection:
        """The writer's own connection, kept between batches (no pool checkout, reset and,
        on PostgreSQL, pre-ping per transaction); a new one after a failure."""
        if self._held is None or self._held.invalidated or self._held.closed:
            self._drop_connection()
            self._held = self.engine.connect()
        return self._held

    def _drop_connection(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            with contextlib.suppress(Exception):
                held.close()

    def _run_batch(self, batch: list[_Job]) -> None:
        results: list[Any] = []
        if len(batch) > 1:
            connection = self._connection()
            try:
                with connection.begin():
                    results = _run_jobs(connection, batch)
                outbox.signal_committed(connection)  # access records: wake the worker
            except Exception:  # one job failed: each on its own (below)
                results = []
        if len(results) == len(batch):
            self.batches += 1
            self.jobs += len(batch)
            _deliver([(job, True, value) for job, value in zip(batch, results, strict=True)])
            return
        outcomes: list[tuple[_Job, bool, Any]] = []
        for job in batch:  # one transaction per job: the job's own outcome
            connection = self._connection()
            try:
                with connection.begin():
                    value = job.fn(connection)
                outbox.signal_committed(connection)
            except Exception as exc:  # handed to the request awaiting it
                outcomes.append((job, False, exc))
            else:
                self.batches += 1
                self.jobs += 1
                outcomes.append((job, True, value))
        _deliver(outcomes)
