"""Push under failure: processes killed with SIGKILL between commit and delivery and in the
middle of deliveries, and (PostgreSQL) two processes serving one provider node.

Every event must reach the subscriber's local system, and the local system must see each
event's ``Idempotency-Key`` as new exactly once.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import _free_port
from tests.mesh.conftest import Running, build, started, wait_for
from tsunagu.mesh.models import Delivery, MessageRecord, ReceivedNotification

TOPIC = "resident.person.moved_out"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """和歌山市 (provider) and 国税庁 (subscriber), with 80 residents."""
    fed, drops = build(tmp_path_factory.mktemp("push"), ("wakayama", "nta"), residents=80)
    with started(fed, drops) as running:
        yield running


_used: set[str] = set()


def fresh_residents(running: Running, count: int) -> list[tuple[str, str]]:
    """``count`` 和歌山市 residents no test used yet: (resident id, individual number)."""
    lines = running.fed.run(
        running.fed.node_env(running.fed.spec("wakayama")),
        "residents",
        "numbers",
        "--lg-code",
        "302015",
        "--limit",
        "80",
    ).splitlines()
    fresh = [(r, n) for r, n in (line.split() for line in lines) if r not in _used][:count]
    if len(fresh) < count:
        raise AssertionError("not enough residents left")
    _used.update(r for r, _ in fresh)
    return fresh


def persons(running: Running, count: int) -> list[tuple[str, str]]:
    """``count`` fresh 和歌山市 residents, each linked at 国税庁: (resident id, NTA pseudonym)."""
    out = []
    with running.local("nta") as http:
        for resident_id, number in fresh_residents(running, count):
            got = http.post(
                "/api/v1/mesh/persons",
                json={"local_id": f"t-{resident_id}", "individual_number": number},
            )
            assert got.status_code == 201, got.text
            out.append((resident_id, got.json()["pseudonym"]))
    return out


def persons_offline(running: Running, count: int) -> list[tuple[str, str]]:
    """Like persons(), while 国税庁's node is down: its pseudonyms come from the hub directly,
    as its node would get them (the same linking key and signed call)."""
    from tsunagu.mesh.client import HubClient
    from tsunagu.mesh.services import link_of

    settings = running.settings("nta")
    assert settings.node_link_key_file is not None
    key = settings.node_link_key_file.read_bytes().strip()
    fresh = fresh_residents(running, count)
    hub = HubClient(settings, running.identity("nta"))
    try:
        reply = hub.call(
            "POST", "/mesh/hub/pseudonyms", {"links": [link_of(key, number) for _, number in fresh]}
        )
    finally:
        hub.close()
    return [(r, p) for (r, _), p in zip(fresh, reply["pseudonyms"], strict=True)]


def move_out(running: Running, people: list[tuple[str, str]]) -> None:
    with running.local("wakayama") as http:
        for resident_id, _ in people:
            response = http.post(
                f"/api/v1/residents/302015/persons/{resident_id}/move-out",
                json={"moved_out_on": "2026-11-21", "moved_to": "東京都文京区"},
            )
            assert response.status_code == 200, response.text


def arrivals(running: Running, people: list[tuple[str, str]]) -> list[dict[str, Any]]:
    wanted = {p for _, p in people}
    return [
        e
        for e in running.sink("nta")
        if e["body"]["topic"] == TOPIC and e["body"]["subject"] in wanted
    ]


def assert_exactly_once(running: Running, people: list[tuple[str, str]]) -> list[dict[str, Any]]:
    got = wait_for(
        lambda: (
            len({e["key"] for e in arrivals(running, people)}) == len(people)
            and arrivals(running, people)
        ),
        120,
        "every event at the local system",
    )
    time.sleep(1.5)  # let any late duplicate arrive before judging
    got = arrivals(running, people)
    firsts = Counter(e["key"] for e in got if not e["duplicate"])
    assert len(firsts) == len(people)  # nothing lost
    assert set(firsts.values()) == {1}  # each key new exactly once for the local system
    assert {e["body"]["subject"] for e in got} == {p for _, p in people}
    return got


def test_provider_killed_between_commit_and_delivery(pair: Running) -> None:
    spec = pair.fed.spec("wakayama")
    pair.fed.kill("wakayama")
    pair.fed.start_node(spec, "--no-worker")  # commits happen, nothing is delivered
    people = persons(pair, 6)
    move_out(pair, people)
    time.sleep(1)
    assert arrivals(pair, people) == []
    pair.fed.kill("wakayama", signal.SIGKILL)
    pair.fed.start_node(spec)
    assert_exactly_once(pair, people)


def test_provider_killed_right_after_the_changes(pair: Running) -> None:
    spec = pair.fed.spec("wakayama")
    people = persons(pair, 6)
    move_out(pair, people)
    pair.fed.kill("wakayama", signal.SIGKILL)  # wherever its worker was
    pair.fed.start_node(spec)
    assert_exactly_once(pair, people)


def test_subscriber_killed_in_the_middle_of_deliveries(pair: Running) -> None:
    spec = pair.fed.spec("nta")
    people = persons(pair, 10)
    move_out(pair, people)
    wait_for(lambda: arrivals(pair, people), 60, "the first notification")
    pair.fed.kill("nta", signal.SIGKILL)
    time.sleep(2)  # the provider's deliveries fail meanwhile and are retried with backoff
    pair.fed.start_node(spec)
    assert_exactly_once(pair, people)
    engine = _engine(pair, "wakayama")
    try:
        with Session(engine) as session:
            states = dict(
                session.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                ).all()
            )
    finally:
        engine.dispose()
    assert "dead" not in states


def test_a_subscription_pauses_while_its_subscriber_is_down_and_loses_nothing(
    pair: Running,
) -> None:
    spec = pair.fed.spec("nta")
    pair.fed.kill("nta", signal.SIGKILL)
    people = persons_offline(pair, 5)
    move_out(pair, people)

    def paused() -> Any:
        with pair.local("wakayama") as http:
            subs = http.get("/api/v1/mesh/subscriptions").json()["subscriptions"]
        nta = [s for s in subs if s["subscriber"] == "JP/GOV/7000012050002"]
        return nta and nta[0]["status"] == "paused" and nta[0]

    sub = wait_for(paused, 60, "the subscription paused")
    assert sub["consecutive_failures"] >= 10 and sub["total_failures"] >= 10
    pair.fed.start_node(spec)
    assert_exactly_once(pair, people)  # the probe after the pause succeeded and resumed it
    assert not paused()


def _engine(running: Running, name: str) -> Any:
    return running.engine(name)


@pytest.mark.postgres
def test_two_processes_of_one_node_deliver_each_event_once(pair: Running) -> None:
    """Scale-out: a second 和歌山市 process on the same PostgreSQL database; both run workers
    that claim outbox rows and deliveries with FOR UPDATE SKIP LOCKED."""
    spec = pair.fed.spec("wakayama")
    engine = _engine(pair, "wakayama")
    assert engine.dialect.name == "postgresql"
    second = (_free_port(), _free_port())
    pair.fed.start_node(spec, name="wakayama-2", ports=second)
    try:
        people = persons(pair, 25)
        move_out(pair, people)
        assert_exactly_once(pair, people)
        nta = _engine(pair, "nta")
        try:
            with Session(nta) as session:
                subjects = {p for _, p in people}
                rows = session.scalars(
                    select(ReceivedNotification).where(ReceivedNotification.subject.in_(subjects))
                ).all()
        finally:
            nta.dispose()
        assert len(rows) == len(people)
        assert sum(r.duplicates for r in rows) == 0  # no event was ever sent twice
        with Session(engine) as session:
            attempts = session.scalars(
                select(Delivery.attempts).where(
                    Delivery.subject.in_([r for r, _ in people]), Delivery.topic == TOPIC
                )
            ).all()
        assert len(attempts) == len(people) and max(attempts) == 1  # never claimed twice
        # The replay store is shared too: a message one process accepted, the other refuses.
        first = _signed_get(pair, spec.mesh_port, people[0][1], "scale-out-replay")
        again = _signed_get(pair, second[1], people[0][1], "scale-out-replay")
        assert first.status_code in (200, 404)  # the person moved out: 404 is an answer too
        assert again.status_code == 409 and again.json()["type"] == "Client.DuplicateMessage"
    finally:
        pair.fed.kill("wakayama-2")
        engine.dispose()


def test_the_hub_down_a_query_needing_it_is_a_signed_fault_and_logged(pair: Running) -> None:
    """A 基本4情報 query needs the hub to translate the person's pseudonym: with the hub down
    the provider answers a signed ServerProxy fault (the consumer verifies it and passes it
    on), logs the message as failed, and serves again once the hub is back."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    ((_, person),) = persons(pair, 1)
    service = "JP/MUN/6000020302015/residents/basic4"
    fed = pair.fed
    fed.kill("hub")
    try:
        down = pair.r1("nta", service, person=person)
        assert down.status_code == 502, down.text
        fault = down.json()
        assert fault["type"] == "Server.ServerProxy.HubError"
        assert "cannot be reached" in fault["message"] and fault["detail"]
        assert down.headers["x-road-request-hash"]  # a signed answer the consumer verified
    finally:
        fed.spawn("hub", fed.hub_env(), "hub", "--no-seed")
        fed.wait_http(f"{fed.hub_url}/readyz", 120, "hub")
    engine = pair.engine("wakayama")
    try:
        with Session(engine) as session:
            logged = session.scalars(
                select(MessageRecord).where(
                    MessageRecord.xroad_id == down.headers["x-road-id"],
                    MessageRecord.side == "provider",
                )
            ).one()
    finally:
        engine.dispose()
    assert (logged.status, logged.error_type) == (502, "Server.ServerProxy.HubError")
    assert logged.response_signature  # the fault was signed and kept
    again = pair.r1("nta", service, person=person)
    assert again.status_code == 200, again.text


def _signed_get(running: Running, port: int, person: str, message_id: str) -> Any:
    import httpx

    from tsunagu.mesh import protocol

    identity = running.identity("nta")
    service = "JP/MUN/6000020302015/residents/basic4"
    target = f"/mesh/v1/{service}"
    headers = {
        protocol.XROAD_CLIENT: "JP/GOV/7000012050002",
        protocol.XROAD_SERVICE: service,
        protocol.PURPOSE: "tax-assessment",
        protocol.PERSON: person,
    }
    signed = protocol.sign_headers(
        identity.signer, "GET", target, headers, b"", message_id=message_id
    )
    with httpx.Client(verify=identity.client_context(), timeout=30) as http:
        return http.get(f"https://127.0.0.1:{port}{target}", headers=signed)
