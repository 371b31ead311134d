"""The transactional outbox: events stored with the change that caused them.

A context calls :func:`record_events` inside the transaction that changes its tables, so an
event exists if and only if the change was committed. Delivery (the mesh's push, issue
"public service mesh") reads :func:`pending` in ``seq`` order and marks rows published.

So that delivery need not poll to learn of new events, a commit that recorded events calls the
callbacks registered with :func:`on_commit` in this process, and on PostgreSQL the transaction
also sends ``NOTIFY tsunagu_outbox`` (delivered by the server at commit, to every process that
listens: other processes of a scaled-out node, or a node while the CLI imports). Polling stays
the safety net: a signal only says "look now".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.pool import Pool

from tsunagu.kernel import naive_utcnow
from tsunagu.kernel.events import Event

from .base import Base


class OutboxEvent(Base):
    """One recorded event; ``seq`` gives the order of commits' events within this database."""

    __tablename__ = "event_outbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(200), index=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)

    def to_event(self) -> Event:
        return Event(
            topic=self.topic, key=self.key, data=self.data, occurred_at=self.occurred_at, id=self.id
        )


def record_events(session: Session | Connection, events: Iterable[Event]) -> int:
    """Add events to the outbox in the caller's transaction (a Session's or a Core
    connection's); returns how many.

    One Core executemany, not an ORM object per event: a full registry import records one
    event per row, and per-object flushing dominated its profile.
    """
    now = naive_utcnow()
    rows = [
        {"id": e.id, "topic": e.topic, "key": e.key, "data": dict(e.data),
         "occurred_at": e.occurred_at, "recorded_at": now}
        for e in events
    ]  # fmt: skip
    if rows:
        # On the connection, so it neither autoflushes the caller's half-built objects nor
        # needs them: outbox rows reference nothing.
        connection = session.connection() if isinstance(session, Session) else session
        connection.execute(insert(OutboxEvent), rows)
        if connection.dialect.name == "postgresql":
            connection.execute(_NOTIFY)  # sent by the server at commit, dropped on rollback
        connection.info[_RECORDED] = True
    return len(rows)


def pending(session: Session, limit: int = 100, topic_prefix: str = "") -> Sequence[OutboxEvent]:
    """Unpublished events, oldest first."""
    query = select(OutboxEvent).where(OutboxEvent.published_at.is_(None))
    if topic_prefix:
        query = query.where(OutboxEvent.topic.startswith(topic_prefix))
    return session.scalars(query.order_by(OutboxEvent.seq).limit(limit)).all()


def events_for(session: Session, topic_prefix: str, key: str | None = None) -> Sequence[Event]:
    """Recorded events of a topic prefix (and key), in order — for history views and tests."""
    query = select(OutboxEvent).where(OutboxEvent.topic.startswith(topic_prefix))
    if key is not None:
        query = query.where(OutboxEvent.key == key)
    return [row.to_event() for row in session.scalars(query.order_by(OutboxEvent.seq))]


def mark_published(session: Session, seqs: Iterable[int]) -> None:
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.seq.in_(list(seqs)))
        .values(published_at=naive_utcnow())
    )


NOTIFY_CHANNEL = "tsunagu_outbox"
_NOTIFY = text(f"NOTIFY {NOTIFY_CHANNEL}")
_RECORDED = "tsunagu.outbox.recorded"
_COMMITTED = "tsunagu.outbox.committed"
_callbacks: list[Callable[[], None]] = []
_callbacks_lock = threading.Lock()


def on_commit(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after each commit in this process that recorded events; returns a
    function that unregisters it. Callbacks must be quick and must not raise (a worker's
    ``Event.set``)."""
    with _callbacks_lock:
        _callbacks.append(callback)

    def remove() -> None:
        with _callbacks_lock:
            if callback in _callbacks:
                _callbacks.remove(callback)

    return remove


@event.listens_for(Engine, "commit")
def _on_commit(connection: Connection) -> None:
    # Fires just before the DBAPI commit: mark it, and call back once the connection goes back
    # to the pool (after the commit returned, so a woken reader sees the rows).
    if connection.info.pop(_RECORDED, False):
        connection.info[_COMMITTED] = True


@event.listens_for(Engine, "rollback")
def _on_rollback(connection: Connection) -> None:
    connection.info.pop(_RECORDED, None)
    connection.info.pop(_COMMITTED, None)


@event.listens_for(Pool, "checkin")
def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        _signal(record.info)


def signal_committed(connection: Connection) -> None:
    """Call the :func:`on_commit` callbacks now if ``connection``'s last commit recorded events.

    For a connection held across transactions (the mesh's group writer), which never goes
    back to the pool; call it after the commit returned."""
    _signal(connection.info)


def _signal(info: dict[Any, Any]) -> None:
    if info.pop(_COMMITTED, False):
        for callback in list(_callbacks):
            callback()
