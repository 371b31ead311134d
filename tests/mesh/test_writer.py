"""The message-log writer's group commit: jobs share a transaction, and each still commits if and
only if it returned (a replay or a failing job loses nothing of the others). On SQLite a turn's
jobs commit in the event loop while the write lock is free, and go to the thread when not."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, func, select

from tsunagu.db import IMMEDIATE, is_sqlite
from tsunagu.db.driver import DriverStatement
from tsunagu.mesh import messagelog
from tsunagu.mesh.errors import MeshFault
from tsunagu.mesh.models import MessageRecord
from tsunagu.mesh.writer import GroupWriter


@pytest.fixture
def client(engine: Engine) -> Iterator[str]:
    """A client id of this test only; its rows are removed afterwards (the writer commits)."""
    name = f"JP/COM/test-{uuid.uuid4().hex[:12]}"
    yield name
    with engine.begin() as connection:
        connection.execute(delete(MessageRecord).where(MessageRecord.client == name))


def insert(client: str, message_id: str) -> Callable[[Connection], int]:
    def job(connection: Connection) -> int:
        return messagelog.insert_record(
            connection, side="provider", client=client, message_id=message_id, service="s",
            method="GET", status=200,
        )  # fmt: skip

    return job


def row(client: str, message_id: str) -> messagelog.RowWrite:
    """The same row as :func:`insert`, as a plain row write (``GroupWriter.run_row``)."""
    return messagelog.record_write(
        side="provider", client=client, message_id=message_id, service="s", method="GET",
        status=200,
    )  # fmt: skip


Item = Callable[[Connection], object] | messagelog.RowWrite


def submit(writer: GroupWriter, item: Item) -> Awaitable[object]:
    if isinstance(item, tuple):
        return writer.run_row(*item)
    return writer.run(item)


def logged(engine: Engine, client: str) -> list[str]:
    with engine.connect() as connection:
        query = select(MessageRecord.message_id).where(MessageRecord.client == client)
        return sorted(connection.execute(query).scalars())


def held_batch(writer: GroupWriter, jobs: list[Item]) -> list[object | BaseException]:
    """Run ``jobs`` as one batch: a first job holds the writer until all of them are queued."""
    running, release = threading.Event(), threading.Event()

    def hold(_connection: Connection) -> None:
        running.set()
        release.wait(timeout=30)

    async def go() -> list[object | BaseException]:
        first = asyncio.ensure_future(writer.run(hold))
        # the writer is inside the holding job: everything queued now waits for the next batch
        await asyncio.get_running_loop().run_in_executor(None, running.wait, 30)
        rest = [asyncio.ensure_future(submit(writer, job)) for job in jobs]
        await asyncio.sleep(0)  # they are queued
        release.set()
        await first
        return list(await asyncio.gather(*rest, return_exceptions=True))

    try:
        return asyncio.run(go())
    finally:
        writer.close()


def test_queued_jobs_commit_in_one_transaction(engine: Engine, client: str) -> None:
    writer = GroupWriter(engine, inline=False)  # the thread's batches
    ids = held_batch(writer, [insert(client, f"m-{i}") for i in range(5)])
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 5
    assert logged(engine, client) == [f"m-{i}" for i in range(5)]
    assert (writer.batches, writer.jobs) == (2, 6)  # the holding job, then the five together


def test_a_replay_in_a_batch_is_refused_and_the_others_are_kept(
    engine: Engine, client: str
) -> None:
    writer = GroupWriter(engine, inline=False)  # the thread's batches
    out = held_batch(writer, [insert(client, "a"), insert(client, "b"), insert(client, "a")])
    assert isinstance(out[0], int) and isinstance(out[1], int)
    assert isinstance(out[2], MeshFault) and out[2].fault_type == "Client.DuplicateMessage"
    assert logged(engine, client) == ["a", "b"]


@pytest.fixture
def sent_together(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Each ``execute_many`` call as (statement, rows): the real one runs."""
    calls: list[tuple[str, int]] = []
    real = DriverStatement.execute_many

    def spy(self: DriverStatement, connection: Connection, rows: Any) -> None:
        rows = list(rows)
        calls.append((str(self.statement).split(" ")[0], len(rows)))
        real(self, connection, rows)

    monkeypatch.setattr(DriverStatement, "execute_many", spy)
    return calls


def test_row_writes_share_the_batch_and_go_to_the_server_together(
    engine: Engine, client: str, sent_together: list[tuple[str, int]]
) -> None:
    writer = GroupWriter(engine, inline=False)  # the thread's batches
    first = asyncio.run(writer.run(insert(client, "first")))
    finish = messagelog.finish_write(first, status=204, response_digest="ZGlnZXN0")
    out = held_batch(writer, [row(client, "a"), insert(client, "b"), row(client, "c"), finish])
    assert out[0] is None and isinstance(out[1], int) and out[2:] == [None, None]
    assert logged(engine, client) == ["a", "b", "c", "first"]
    with engine.connect() as connection:
        done = select(MessageRecord.status, MessageRecord.response_digest)
        assert connection.execute(done.where(MessageRecord.id == first)).one() == (
            204,
            "ZGlnZXN0",
        )
    # the holding job's batch, then one batch: two rows in one INSERT call, one UPDATE
    assert (writer.batches, writer.jobs) == (3, 6)
    assert sorted(sent_together) == [("INSERT", 2), ("UPDATE", 1)]


def test_a_replayed_row_fails_alone_and_the_others_are_kept(
    engine: Engine, client: str, sent_together: list[tuple[str, int]]
) -> None:
    writer = GroupWriter(engine, inline=False)  # the thread's batches
    out = held_batch(writer, [row(client, "a"), row(client, "b"), row(client, "a")])
    assert out[:2] == [None, None]
    assert isinstance(out[2], MeshFault) and out[2].fault_type == "Client.DuplicateMessage"
    assert logged(engine, client) == ["a", "b"]
    assert sent_together == [("INSERT", 3)]  # failed together; then each row alone


def test_a_failing_job_writes_nothing_and_fails_alone(engine: Engine, client: str) -> None:
    def broken(connection: Connection) -> None:
        insert(client, "half-done")(connection)
        raise RuntimeError("the job fails after its insert")

    writer = GroupWriter(engine, inline=False)  # the thread's batches
    out = held_batch(writer, [insert(client, "x"), broken, insert(client, "y")])
    assert isinstance(out[1], RuntimeError)
    assert logged(engine, client) == ["x", "y"]  # not "half-done": its transaction rolled back
    with engine.connect() as connection:
        count = select(func.count()).where(MessageRecord.client == client)
        assert connection.execute(count).scalar_one() == 2


def test_the_writer_starts_again_after_close(engine: Engine, client: str) -> None:
    writer = GroupWriter(engine)
    try:
        asyncio.run(writer.run(insert(client, "one")))
        writer.close()
        asyncio.run(writer.run(insert(client, "two")))  # a new thread and connection
    finally:
        writer.close()
    assert logged(engine, client) == ["one", "two"]


@pytest.fixture
def sqlite_engine(engine: Engine) -> Engine:
    if not is_sqlite(engine):
        assert GroupWriter(engine).inline is False  # PostgreSQL: always the thread
        pytest.skip("batches in the event loop are SQLite's")
    assert GroupWriter(engine).inline is True
    return engine


def in_one_turn(writer: GroupWriter, jobs: list[Item]) -> list[object]:
    async def go() -> list[object]:
        futures = [submit(writer, j) for j in jobs]
        return list(await asyncio.gather(*futures, return_exceptions=True))

    try:
        return asyncio.run(go())
    finally:
        writer.close()


def test_one_turns_jobs_commit_together_in_the_event_loop(
    sqlite_engine: Engine, client: str
) -> None:
    writer = GroupWriter(sqlite_engine)
    ids = in_one_turn(writer, [insert(client, f"m-{i}") for i in range(5)])
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 5
    assert logged(sqlite_engine, client) == [f"m-{i}" for i in range(5)]
    assert (writer.batches, writer.inline_batches, writer.jobs) == (1, 1, 5)
    assert writer._thread is None  # no thread was needed


def test_a_held_write_lock_sends_the_batch_to_the_thread_and_the_loop_runs_on(
    sqlite_engine: Engine, client: str
) -> None:
    """Another connection writes: the loop does not wait for it (it releases the lock itself,
    from a timer: a loop blocked on the lock would never run it)."""
    writer = GroupWriter(sqlite_engine)
    other = sqlite_engine.connect().execution_options(**{IMMEDIATE: True})
    holding = other.begin()  # BEGIN IMMEDIATE: the write lock, until rolled back

    late: list[float] = []

    async def go() -> list[object]:
        loop = asyncio.get_running_loop()
        due = loop.time() + 0.3

        def release() -> None:
            late.append(loop.time() - due)
            holding.rollback()

        loop.call_later(0.3, release)
        return list(await asyncio.gather(*(writer.run(insert(client, m)) for m in "ab")))

    try:
        ids = asyncio.run(go())
    finally:
        writer.close()
        other.close()
    assert late and late[0] < 5  # not blocked for SQLite's busy timeout (30 s)
    assert all(isinstance(i, int) for i in ids)
    assert logged(sqlite_engine, client) == ["a", "b"]
    assert writer.inline_batches == 0 and writer.jobs == 2  # both in the thread's batches


def test_one_turns_row_writes_commit_together_in_the_event_loop(
    sqlite_engine: Engine, client: str, sent_together: list[tuple[str, int]]
) -> None:
    writer = GroupWriter(sqlite_engine)
    out = in_one_turn(writer, [row(client, "a"), insert(client, "b"), row(client, "c")])
    assert out[0] is None and isinstance(out[1], int) and out[2] is None
    assert logged(sqlite_engine, client) == ["a", "b", "c"]
    assert (writer.batches, writer.inline_batches, writer.jobs) == (1, 1, 3)
    assert sent_together == [("INSERT", 2)]
    writer = GroupWriter(sqlite_engine)  # a replayed row: to the thread, each row alone
    out = in_one_turn(writer, [row(client, "d"), row(client, "a")])
    assert out[0] is None and isinstance(out[1], MeshFault)
    assert logged(sqlite_engine, client) == ["a", "b", "c", "d"]
    assert writer.inline_batches == 0


def test_a_replay_in_an_event_loop_batch_goes_to_the_thread_and_nothing_is_lost(
    sqlite_engine: Engine, client: str
) -> None:
    writer = GroupWriter(sqlite_engine)
    out = in_one_turn(writer, [insert(client, "a"), insert(client, "b"), insert(client, "a")])
    assert isinstance(out[0], int) and isinstance(out[1], int)
    assert isinstance(out[2], MeshFault) and out[2].fault_type == "Client.DuplicateMessage"
    assert logged(sqlite_engine, client) == ["a", "b"]
    assert writer.inline_batches == 0  # the batch rolled back; the thread ran each job alone
    # The loop's connection is fine after the rollback: the next turn commits inline again.
    writer = GroupWriter(sqlite_engine)
    assert isinstance(in_one_turn(writer, [insert(client, "c")])[0], int)
    assert writer.inline_batches == 1
