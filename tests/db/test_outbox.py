"""Events are stored with the change that caused them and delivered in order."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from tsunagu.db import OutboxEvent, events_for, mark_published, pending, record_events
from tsunagu.db.outbox import NOTIFY_CHANNEL, on_commit
from tsunagu.kernel import Event


def test_events_are_kept_in_order_until_published(session: Session) -> None:
    record_events(session, [
        Event("address.machiaza.new", "131016/0001001", {"after": {"name": "丸の内一丁目"}}),
        Event("address.machiaza.abolished", "131016/0002001", {"before": {"name": "旧町"}}),
    ])  # fmt: skip
    session.flush()
    rows = pending(session)
    assert [r.topic for r in rows] == ["address.machiaza.new", "address.machiaza.abolished"]
    mark_published(session, [rows[0].seq])
    assert [r.key for r in pending(session)] == ["131016/0002001"]
    history = events_for(session, "address.machiaza", key="131016/0001001")
    assert history[0].data["after"]["name"] == "丸の内一丁目"


def test_rolled_back_change_leaves_no_event(session: Session) -> None:
    with session.begin_nested() as savepoint:
        record_events(session, [Event("corporation.name.changed", "7000012050002")])
        session.flush()
        savepoint.rollback()
    assert pending(session) == []


@pytest.mark.parametrize("topic", ["", "address", "address.changed", "Address.Town.New", "a..b"])
def test_topic_must_name_context_entity_and_change(topic: str) -> None:
    with pytest.raises(ValueError, match="topic"):
        Event(topic, "k")


# -- the commit signal: a worker learns of new events without polling ------------------------------


def _cleanup(engine: Engine, ids: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))


def test_a_commit_with_events_calls_back_once_they_are_visible(engine: Engine) -> None:
    visible: list[int] = []
    event = Event("corporation.name.changed", "7000012050002")

    def callback() -> None:  # a new reader must already see the committed row
        with engine.connect() as reader:
            count = reader.scalar(
                select(func.count()).select_from(OutboxEvent).where(OutboxEvent.key == event.key)
            )
            visible.append(int(count or 0))

    unregister = on_commit(callback)
    try:
        with engine.begin() as conn:  # a Core transaction (the mesh's request path)
            record_events(conn, [event])
            assert visible == []  # not before the commit
        assert visible == [1]
        with engine.begin() as conn:  # no events: no call
            conn.execute(select(1))
        with Session(engine) as session:  # a Session's commit
            record_events(session, [Event("corporation.name.changed", "7000012050002")])
            session.commit()
        assert visible == [1, 2]
    finally:
        unregister()
        with engine.connect() as conn:
            ids = list(
                conn.scalars(select(OutboxEvent.id).where(OutboxEvent.key == "7000012050002"))
            )
        _cleanup(engine, ids)


def test_a_rolled_back_transaction_and_an_unregistered_callback_call_nothing(
    engine: Engine,
) -> None:
    calls: list[str] = []
    unregister = on_commit(lambda: calls.append("called"))
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            record_events(conn, [Event("corporation.name.changed", "7000012050003")])
            transaction.rollback()
            # the connection is reused: a later commit without events must not call back
            with conn.begin():
                conn.execute(select(1))
        assert calls == []
    finally:
        unregister()
    event = Event("corporation.name.changed", "7000012050003")
    with engine.begin() as conn:
        record_events(conn, [event])
    assert calls == []
    _cleanup(engine, [event.id])


@pytest.mark.postgres
def test_postgres_notifies_listeners_at_commit_only(engine: Engine) -> None:
    """Other processes (a scaled-out node, a node while the CLI imports) learn by NOTIFY."""
    import psycopg

    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        event = Event("corporation.name.changed", "7000012050004")
        with engine.connect() as conn:
            transaction = conn.begin()
            record_events(conn, [Event("corporation.name.changed", "7000012050004")])
            transaction.rollback()
        assert list(listener.notifies(timeout=0.5, stop_after=1)) == []
        with engine.begin() as conn:
            record_events(conn, [event])
        got = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.channel for n in got] == [NOTIFY_CHANNEL]
    _cleanup(engine, [event.id])
