"""Events are stored with the change that caused them and delivered in order."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tsunagu.db import events_for, mark_published, pending, record_events
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
