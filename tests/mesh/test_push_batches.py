"""Delivery rounds: several due notifications of one subscription go out in one round.

The worker claims up to 50 due deliveries at once; many of them share a subscription (a burst of
registry changes to one subscriber). Found by bench/mesh.py: such a round used to fail before
sending anything, every time, so a burst was never delivered.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tsunagu.db import record_events
from tsunagu.kernel import Settings
from tsunagu.kernel.events import Event
from tsunagu.mesh import push
from tsunagu.mesh.models import Delivery, Subscription
from tsunagu.mesh.services import declare_service


def test_a_burst_for_one_subscriber_is_delivered_in_one_round(
    session_factory: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_factory() as session:
        service = declare_service(
            session, subsystem="bench", code="changes", title="変更の通知", backend="url",
            backend_url="http://127.0.0.1:9/", event_types=["bench."],
        )  # fmt: skip
        session.add(
            Subscription(
                subscriber="JP/COM/5100000000002",
                service_id=service.id,
                event_type="bench.",
                filter={},
                purpose="benchmark",
            )
        )
        session.flush()
        record_events(
            session, [Event(topic="bench.record.changed", key=f"record-{i}") for i in range(3)]
        )
        assert push.dispatch(session) == 3
        session.commit()
    sent: list[str] = []

    def send_one(rt: Any, http: Any, delivery: Delivery, sub: Subscription, svc: Any) -> None:
        assert sub.subscriber == "JP/COM/5100000000002" and svc.code == "changes"
        sent.append(delivery.subject)

    monkeypatch.setattr(push, "send_one", send_one)
    rt = SimpleNamespace(session=session_factory, write_session=session_factory, settings=settings)
    assert push.deliver_due(rt, http=None) == 3  # type: ignore[arg-type]
    assert sorted(sent) == ["record-0", "record-1", "record-2"]
    with session_factory() as session:
        statuses = session.scalars(select(Delivery.status)).all()
        assert statuses == ["delivered"] * 3
        assert session.scalars(select(Subscription.delivered)).one() == 3
