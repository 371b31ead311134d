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

from tsunagu.db import IMMEDIATE, outbox

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH_LIMIT = 256  # jobs per transaction


class _Job:
    __slots__ = ("fn", "future", "loop")

    def __init__(
        self, fn: Callable[[Connection], Any], future: asyncio.Future[Any], loop: Any
    ) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop


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


class GroupWriter:
    """One writer thread batching jobs into shared transactions (started on first use)."""

    def __init__(self, engine: Engine) -> None:
        # SQLite: take the write lock at BEGIN (a job may read before it writes).
        self.engine = engine.execution_options(**{IMMEDIATE: True})
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._held: Connection | None = None  # used by the writer thread only
        self.batches = 0  # for tests and the benchmark: transactions committed
        self.jobs = 0

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(connection)`` in the next batch; its result once the batch is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._ensure_started()
        self._queue.put(_Job(fn, future, loop))
        return await future

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
                    for job in batch:
                        results.append(job.fn(connection))
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
