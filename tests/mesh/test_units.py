"""The mesh's pieces in one process, on the test database: pseudonyms, access rules, the
delivery queue (order, backoff, pause, dead letters) and message signatures."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tsunagu.kernel import Conflict, ValidationProblem, naive_utcnow
from tsunagu.mesh import hub, messagelog, protocol, push, services
from tsunagu.mesh.errors import MeshFault
from tsunagu.mesh.models import (
    AccessRule,
    AccessVersion,
    Delivery,
    GroupMember,
    MeshService,
    MessageRecord,
    Subscription,
)
from tsunagu.trust.ca import MemberId, PlatformCa
from tsunagu.trust.jws import MessageSigner
from tsunagu.trust.keys import KeyStore, generate_key

NTA = MemberId.parse("JP/GOV/7000012050002")
WAKAYAMA = MemberId.parse("JP/MUN/6000020302015")
SETTINGS = SimpleNamespace(
    mesh_max_attempts=3,
    mesh_max_failures=2,
    mesh_retry_base=1.0,
    mesh_retry_max=8.0,
    mesh_pause_seconds=60,
)


def test_pseudonyms_differ_per_organization_and_translate_only_between_holders(
    session: Session, tmp_path: object
) -> None:
    settings = SimpleNamespace(hub_pseudonym_key_file=None, data_dir=tmp_path)
    link = services.link_of(b"k" * 32, "123456789018")
    nta = hub.issue_pseudonyms(session, settings, NTA, [link])  # type: ignore[arg-type]
    wak = hub.issue_pseudonyms(session, settings, WAKAYAMA, [link])  # type: ignore[arg-type]
    assert nta != wak and len(nta[0]) == 26
    assert hub.issue_pseudonyms(session, settings, NTA, [link]) == nta  # type: ignore[arg-type]
    assert hub.translate(session, nta[0], NTA.code, WAKAYAMA.code) == wak[0]
    with pytest.raises(MeshFault) as caught:  # the pseudonym is not the caller's
        hub.translate(session, nta[0], WAKAYAMA.code, NTA.code)
    assert caught.value.fault_type == "Client.UnknownPerson"
    only_nta = hub.issue_pseudonyms(session, settings, NTA, ["0" * 64])  # type: ignore[arg-type]
    with pytest.raises(MeshFault):  # 和歌山市 holds none for that person
        hub.translate(session, only_nta[0], NTA.code, WAKAYAMA.code)


@pytest.mark.parametrize("bad", ["", "xyz", "A" * 64, ["list"], "0" * 63])
def test_links_are_checked(session: Session, tmp_path: object, bad: object) -> None:
    settings = SimpleNamespace(hub_pseudonym_key_file=None, data_dir=tmp_path)
    with pytest.raises(ValidationProblem):
        hub.issue_pseudonyms(session, settings, NTA, [bad])  # type: ignore[arg-type]


def test_a_link_needs_a_valid_individual_number() -> None:
    with pytest.raises(ValidationProblem):
        services.link_of(b"k", "123456789012")  # wrong check digit
    assert services.link_of(b"k", "123456789018") != services.link_of(b"j", "123456789018")


@pytest.mark.parametrize(
    "basis",
    [
        "415AC0000000057/article/69/paragraph/2/item/3",
        "415AC0000000057/article/2_2",
    ],
)
def test_legal_basis_forms(basis: str) -> None:
    assert services.check_legal_basis(basis) == basis


@pytest.mark.parametrize(
    "basis",
    [
        "",
        "Art19",
        "415AC0000000057",
        "415AC0000000057/article/x",
        "415AC0000000057/paragraph/1",
        "415ac0000000057/article/1",
    ],
)
def test_bad_legal_basis(basis: str) -> None:
    with pytest.raises(ValidationProblem):
        services.check_legal_basis(basis)


def _queue(session: Session, subjects: list[str]) -> tuple[Subscription, list[Delivery]]:
    service = services.declare_service(
        session,
        subsystem="r",
        code="c",
        title="t",
        backend="resident",
        event_types=["resident.person."],
    )
    sub = Subscription(
        subscriber=str(NTA), service_id=service.id, event_type="resident.person.", purpose="p"
    )
    session.add(sub)
    session.flush()
    rows = [
        Delivery(
            subscription_id=sub.id,
            event_id=f"e{i}",
            event_seq=i,
            topic="resident.x",
            subject=subject,
            payload={},
            next_attempt_at=naive_utcnow() - timedelta(1),
        )
        for i, subject in enumerate(subjects)
    ]
    session.add_all(rows)
    session.flush()
    return sub, rows


def test_order_per_subject(session: Session) -> None:
    _, rows = _queue(session, ["a", "a", "b"])
    claimed = {d.event_id for d in push.claim_deliveries(session)}
    assert claimed == {"e0", "e2"}  # e1 waits for e0 (same subject)
    push.delivered(session, rows[0].id)
    session.flush()
    # e1 is free now; e2 is still leased to whoever claimed it
    assert {d.event_id for d in push.claim_deliveries(session)} == {"e1"}


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    steps = [push.backoff(SETTINGS, n).total_seconds() for n in range(1, 8)]
    assert 0.5 <= steps[0] <= 1.5 and 4 <= steps[3] <= 12 and all(s <= 12 for s in steps)


def test_failures_pause_then_dead_letter_and_replay(session: Session) -> None:
    sub, rows = _queue(session, ["a", "b"])
    for row in rows:
        row.attempts = 1
        push.failed(session, SETTINGS, row.id, "boom")
    assert sub.status == "paused" and sub.paused_until is not None
    assert sub.consecutive_failures == 2 and rows[0].status == "pending"
    assert rows[0].next_attempt_at > naive_utcnow()
    assert push.claim_deliveries(session) == []  # paused: nothing is claimed before the probe
    rows[0].attempts = 3
    push.failed(session, SETTINGS, rows[0].id, "still down")
    assert rows[0].status == "dead"
    assert [d.id for d in push.dead_letters(session)] == [rows[0].id]
    push.replay(session, rows[0].id)
    assert rows[0].status == "pending" and rows[0].attempts == 0
    with pytest.raises(Conflict):
        push.replay(session, rows[0].id)
    push.delivered(session, rows[1].id)
    session.refresh(sub)
    assert sub.status == "active" and sub.paused_until is None and sub.consecutive_failures == 0


def test_a_paused_subscription_is_probed_after_its_rest(session: Session) -> None:
    sub, rows = _queue(session, ["a"])
    sub.status, sub.paused_until = "paused", naive_utcnow() - timedelta(seconds=1)
    session.flush()
    assert [d.id for d in push.claim_deliveries(session)] == [rows[0].id]


def _identity(tmp_path: object) -> tuple[MessageSigner, object]:
    store = KeyStore(tmp_path, b"p")  # type: ignore[arg-type]
    ca = PlatformCa.create(store, "JP", datetime.now(UTC))
    from tsunagu.mesh.identity import make_csr

    key = generate_key()
    cert = ca.issue_node(
        make_csr(key, NTA, "https://127.0.0.1"), NTA, "https://127.0.0.1", datetime.now(UTC)
    )
    from tsunagu.trust.ca import fingerprint

    return MessageSigner(key, fingerprint(cert)), cert


def test_signatures_bind_every_signed_header_body_and_time(tmp_path: object) -> None:
    signer, cert = _identity(tmp_path)
    headers = {"x-road-client": str(NTA), "tsunagu-purpose": "p"}
    signed = protocol.sign_headers(signer, "POST", "/mesh/v1/x", headers, b"{}")

    def check(**changes: object) -> str:
        h = dict(signed)
        h.update({k.replace("_", "-"): str(v) for k, v in changes.items()})
        return protocol.check_signature(
            "POST",
            "/mesh/v1/x",
            h,
            b"{}",
            cert,  # type: ignore[arg-type]
            skew_seconds=300,
            fault_prefix="Server.ServerProxy",
        )

    assert check() == signed["tsunagu-message-id"]
    for change in (
        {"tsunagu_purpose": "q"},
        {"x_road_client": "JP/GOV/7000012050002/s"},
        {"tsunagu_timestamp": int(time.time()) + 1},
    ):
        with pytest.raises(MeshFault) as caught:
            check(**change)
        assert caught.value.status == 401
    late = protocol.sign_headers(
        signer, "POST", "/mesh/v1/x", headers, b"{}", now=time.time() - 301
    )
    with pytest.raises(MeshFault) as caught:
        protocol.check_signature(
            "POST",
            "/mesh/v1/x",
            late,
            b"{}",
            cert,  # type: ignore[arg-type]
            skew_seconds=300,
            fault_prefix="Server.ServerProxy",
        )
    assert caught.value.fault_type == "Server.ServerProxy.MessageExpired"
    with pytest.raises(MeshFault):
        protocol.hashes("GET", "/x", [("x-road-client", "a\r\nb")], b"")


def test_an_expired_trust_list_with_the_hub_gone_stops_the_node(
    session: Session, settings: object
) -> None:
    """Both sides answer OutdatedGlobalConf once the cached list expired and cannot refresh."""
    from tsunagu.mesh.runtime import NodeRuntime
    from tsunagu.trust import TrustListCache, init_ca
    from tsunagu.trust.trustlist import build_trust_list, sign_trust_list

    hub_material = init_ca(settings)  # type: ignore[arg-type]
    token = sign_trust_list(
        build_trust_list(session, hub_material, base_url="http://hub", validity_seconds=60),
        hub_material,
    )
    clock = [datetime.now(UTC)]
    served = [token]

    def fetch() -> str:
        if not served:
            raise ConnectionError("hub down")
        return served[0]

    cache = TrustListCache(fetch, hub_material.ca.root, refresh_seconds=1, clock=lambda: clock[0])
    rt = NodeRuntime.__new__(NodeRuntime)
    rt.trust_cache = cache
    assert rt.trust().document["instance"] == "JP"
    served.clear()  # the hub goes away: the cached list keeps the node going until it expires
    clock[0] += timedelta(seconds=30)
    assert rt.trust().document["instance"] == "JP"
    clock[0] += timedelta(seconds=60)
    for prefix in ("Server.ServerProxy", "Server.ClientProxy"):
        with pytest.raises(MeshFault) as caught:
            rt.trust(prefix)
        assert caught.value.fault_type == f"{prefix}.OutdatedGlobalConf"
        assert caught.value.status == 503


def test_the_most_specific_access_rule_wins_and_no_rule_denies(session: Session) -> None:
    url = {"backend": "url", "backend_url": "http://127.0.0.1:9/"}
    service = services.declare_service(
        session, subsystem="reg", code="basic4", title="基本4情報", **url
    )
    other = services.declare_service(session, subsystem="reg", code="other", title="o", **url)
    session.add_all(
        [
            AccessRule(service_id=service.id, client="group:tax", purposes=["g"], legal_basis=""),
            AccessRule(service_id=service.id, client=str(NTA), purposes=["m"], legal_basis=""),
            AccessRule(service_id=other.id, client="group:tax", purposes=["o"], legal_basis=""),
            GroupMember(group="tax", member=str(NTA)),
            GroupMember(group="tax", member=str(WAKAYAMA)),
        ]
    )
    session.flush()
    connection = session.connection()
    subsystem = f"{NTA}/assess"
    for client, subsys, code, purposes in [
        (subsystem, "reg", "basic4", ["m"]),  # the member's own rule beats the group's
        (f"{WAKAYAMA}/x", "reg", "basic4", ["g"]),  # through the group
        (f"{WAKAYAMA}/x", "reg", "other", ["o"]),
        ("JP/COM/5100000000019/x", "reg", "basic4", None),  # no rule: deny
    ]:
        version, found, rule = services.access_of(connection, subsys, code, client)
        assert version is not None
        assert found is not None and found.code == code and found.backend == "url"
        assert (rule.purposes if rule else None) == purposes
        same = services.matching_rule(session, found, client)  # the subscriptions' entry
        assert (same.purposes if same else None) == purposes
    assert services.access_of(connection, "reg", "missing", subsystem) == (None, None, None)


def test_a_message_id_is_logged_once_per_side_and_client(session: Session) -> None:
    connection = session.connection()
    values = {"client": str(NTA), "message_id": "m-1", "service": "s", "method": "GET"}
    first = messagelog.insert_record(connection, side="provider", **values)
    messagelog.finish_record(connection, first, status=200, response_digest="d")
    assert messagelog.insert_record(connection, side="consumer", **values) != first
    record = session.get(MessageRecord, first)
    assert record is not None and (record.status, record.response_digest) == (200, "d")
    with pytest.raises(MeshFault) as caught:
        messagelog.insert_record(connection, side="provider", **values)
    assert caught.value.fault_type == "Client.DuplicateMessage"


def test_certificates_of_earlier_trust_lists_stay_in_the_export_header(
    session: Session, session_factory: object, settings: object
) -> None:
    """A node certificate revoked after it signed records is no longer in the trust list, but
    the node kept it when it accepted the earlier list, so its export still carries it."""
    from cryptography import x509

    from tsunagu.accounts import create_organization
    from tsunagu.mesh.identity import make_csr
    from tsunagu.mesh.models import KnownCertificate
    from tsunagu.trust import TrustListCache, init_ca, issue_node_certificate, revoke_certificate
    from tsunagu.trust.trustlist import build_trust_list, sign_trust_list

    platform = init_ca(settings)  # type: ignore[arg-type]
    create_organization(session, "mesh-nta", "国税庁", corporate_number=NTA.code)
    create_organization(session, "mesh-wakayama", "和歌山市", corporate_number=WAKAYAMA.code)
    rows = {}
    for name, member in (("nta", NTA), ("wakayama", WAKAYAMA)):
        node = MemberId.parse(f"{member}/node")
        csr = make_csr(generate_key(), node, "https://127.0.0.1")
        rows[name] = issue_node_certificate(session, platform, csr, str(node), "https://127.0.0.1")
    session.flush()

    def signed() -> str:
        document = build_trust_list(session, platform, base_url="http://hub", validity_seconds=60)
        return sign_trust_list(document, platform)

    served = [signed()]
    accepted: list[int] = []
    archive = messagelog.CertificateArchive(session_factory)  # type: ignore[arg-type]

    def remember(trust: object) -> None:
        accepted.append(archive.remember(trust))  # type: ignore[arg-type]

    clock = [datetime.now(UTC)]
    cache = TrustListCache(
        lambda: served[0], platform.ca.root, refresh_seconds=1,
        clock=lambda: clock[0], on_accept=remember,
    )  # fmt: skip
    cache.current()
    assert accepted == [3]  # two nodes and the issuing CA
    revoke_certificate(session, rows["nta"].serial)
    session.flush()
    clock[0] += timedelta(seconds=2)
    served[0] = signed()
    members = [m["id"] for m in cache.current().document["members"]]
    assert members == [str(WAKAYAMA)]  # NTA's node left the list...
    assert accepted == [3, 0]  # ...and nothing new came with the new one
    assert session.query(KnownCertificate).count() == 3

    own = x509.load_pem_x509_certificate(rows["wakayama"].certificate_pem.encode("ascii"))
    rt = SimpleNamespace(
        identity=SimpleNamespace(certificate=own, anchor=platform.ca.root),
        trust_cache=cache,
        member_base=str(WAKAYAMA),
    )
    header = messagelog.export_header(rt, session)  # type: ignore[arg-type]
    nta = x509.load_pem_x509_certificate(rows["nta"].certificate_pem.encode("ascii"))
    assert set(header["certificates"]["nodes"]) == {messagelog.b64der(own), messagelog.b64der(nta)}
    assert header["certificates"]["ca"]["issuing"] == [messagelog.b64der(platform.ca.issuing)]


def test_a_failing_on_accept_does_not_stop_the_trust_list(
    session: Session, settings: object
) -> None:
    from tsunagu.trust import TrustListCache, init_ca
    from tsunagu.trust.trustlist import build_trust_list, sign_trust_list

    platform = init_ca(settings)  # type: ignore[arg-type]
    token = sign_trust_list(
        build_trust_list(session, platform, base_url="http://hub", validity_seconds=60), platform
    )

    def broken(trust: object) -> None:
        raise RuntimeError("database away")

    cache = TrustListCache(lambda: token, platform.ca.root, on_accept=broken)
    assert cache.current().document["instance"] == "JP"
    assert cache.last_error is None


class _Tsa:
    """Stands in for the hub's TSA (the token itself is tested in tests/trust); ``during``
    runs while the TSA "answers", as another writer of the node's database might."""

    def __init__(self, during: object = None) -> None:
        self.during = during
        self.roots: list[bytes] = []

    def timestamp(self, digest: bytes) -> bytes:
        self.roots.append(digest)
        if callable(self.during):
            self.during()
        return b"token"


def _finished_records(session: Session, n: int) -> list[int]:
    connection = session.connection()
    ids = []
    for i in range(n):
        values = {"client": str(NTA), "message_id": f"seal-{i}", "service": "s", "method": "GET"}
        ids.append(messagelog.insert_record(connection, side="provider", **values))
        messagelog.finish_record(connection, ids[-1], status=200, response_digest=f"d{i}")
    session.commit()
    return ids


def test_sealing_stores_a_proof_per_record_against_the_batch_root(
    session: Session, session_factory: object
) -> None:
    import base64

    from tsunagu.trust.batch import root_from_path

    ids = _finished_records(session, 5)
    tsa = _Tsa()
    settings = SimpleNamespace(mesh_timeout=30)
    assert messagelog.seal_records(session_factory, settings, tsa) == 5  # type: ignore[arg-type]
    assert messagelog.seal_records(session_factory, settings, tsa) == 0  # type: ignore[arg-type]
    (root,) = tsa.roots
    session.expire_all()
    for record_id in ids:
        record = session.get(MessageRecord, record_id)
        assert record is not None and record.batch_id is not None
        assert record.batch_index is not None and record.batch_path is not None
        leaf = messagelog.leaf(messagelog.leaf_fields(record))
        path = [base64.b64decode(p) for p in record.batch_path]
        assert root_from_path(record.batch_index, 5, leaf, path) == root


def test_a_record_changed_while_the_tsa_answers_is_sealed_next_round(
    session: Session, session_factory: object
) -> None:
    """SQLite: no transaction is held across the TSA call, so the seal re-reads the rows and
    gives up the round if one changed; the next round seals what is there then."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL holds the rows FOR UPDATE across the TSA call instead")
    from sqlalchemy import update

    ids = _finished_records(session, 3)

    def change() -> None:
        with session_factory() as other:  # type: ignore[operator]
            other.execute(
                update(MessageRecord).where(MessageRecord.id == ids[1]).values(user_id="changed")
            )
            other.commit()

    settings = SimpleNamespace(mesh_timeout=30)
    assert messagelog.seal_records(session_factory, settings, _Tsa(change)) == 0  # type: ignore[arg-type]
    session.expire_all()
    assert all(session.get(MessageRecord, i).batch_id is None for i in ids)  # type: ignore[union-attr]
    tsa = _Tsa()
    assert messagelog.seal_records(session_factory, settings, tsa) == 3  # type: ignore[arg-type]
    session.expire_all()
    record = session.get(MessageRecord, ids[1])
    assert record is not None and record.user_id == "changed" and record.batch_id is not None


def test_service_metrics_count_each_label_set() -> None:
    from prometheus_client import generate_latest

    from tsunagu.mesh.runtime import ServiceMetrics

    metrics = ServiceMetrics()
    for status in (200, 204, 403):
        metrics.observe("provider", "JP/GOV/x/s/c", str(NTA), status, 0.003)
    metrics.observe("consumer", "JP/GOV/x/s/c", str(NTA), 200, 0.5)
    text = generate_latest(metrics.registry).decode()
    provider = f'client="{NTA}",service="JP/GOV/x/s/c",side="provider"'
    assert f'tsunagu_mesh_requests_total{{{provider},status="2xx"}} 2.0' in text
    assert f'tsunagu_mesh_requests_total{{{provider},status="4xx"}} 1.0' in text
    assert f"tsunagu_mesh_request_seconds_count{{{provider}}} 3.0" in text
    consumer = 'service="JP/GOV/x/s/c",side="consumer"'
    assert f'_bucket{{client="{NTA}",le="0.25",{consumer}}} 0.0' in text
    assert f'_bucket{{client="{NTA}",le="0.5",{consumer}}} 1.0' in text


SIGNED_CALLS = [
    ("put", "/mesh/hub/services"),
    ("post", "/mesh/hub/pseudonyms"),
    ("post", "/mesh/hub/pseudonyms/translate"),
    ("post", "/mesh/hub/access-records"),
]


@pytest.mark.parametrize(("method", "path"), SIGNED_CALLS)
def test_the_hubs_signed_calls_document_their_body_and_fault_shape(
    client: object, method: str, path: str
) -> None:
    """The OpenAPI document says what an unsigned call really gets: 401 in X-Road's shape."""
    from fastapi.testclient import TestClient

    assert isinstance(client, TestClient)
    operation = client.get("/openapi.json").json()["paths"][path][method]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["type"] == "object"
    fault = operation["responses"]["401"]["content"]["application/json"]["schema"]
    for status in ("400", "409", "413"):
        assert operation["responses"][status]["content"]["application/json"]["schema"] == fault
    answer = client.request(method.upper(), path, json={})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == set(fault["required"]) and body["type"] == "Client.MissingSignature"


def test_the_mesh_front_answers_a_crash_in_xroads_shape_and_passes_the_rest_on() -> None:
    """MeshFront serves /mesh/v1/... outside FastAPI's layers, so it must catch a provider
    failure itself: a 500 in X-Road's error shape, no stack trace; other paths reach FastAPI."""
    from fastapi.testclient import TestClient

    from tsunagu.mesh.node import MeshFront, create_mesh_app

    app = create_mesh_app(None)  # type: ignore[arg-type] # no runtime: the provider fails
    with TestClient(MeshFront(app), raise_server_exceptions=False) as client:
        crashed = client.get("/mesh/v1/JP/GOV/7000012050002/sub/svc")
        assert crashed.status_code == 500
        assert crashed.json()["type"] == "Server.ServerProxy.InternalError"
        assert "Traceback" not in crashed.text and "AttributeError" not in crashed.text
        assert client.get("/mesh/healthz").json() == {"status": "ok"}
        assert client.request("TRACE", "/mesh/v1/x").status_code == 405


def test_a_sealed_record_is_never_finished_again(session: Session, session_factory: object) -> None:
    """A record sealed in a batch keeps the fields its proof covers, even if the provider's
    completion arrives late (its process was slow, or the record was sealed as it was)."""
    (record_id,) = _finished_records(session, 1)
    settings = SimpleNamespace(mesh_timeout=30)
    assert messagelog.seal_records(session_factory, settings, _Tsa()) == 1  # type: ignore[arg-type]
    connection = session.connection()
    messagelog.finish_record(connection, record_id, status=500, error_type="late")
    session.commit()
    session.expire_all()
    record = session.get(MessageRecord, record_id)
    assert record is not None and record.batch_id is not None
    assert (record.status, record.error_type) == (200, "")


def test_batches_of_an_earlier_tsa_certificate_verify_after_a_rollover(
    session: Session, session_factory: object, settings: object, tmp_path: Path
) -> None:
    """The export header names the TSA certificate of today's trust list; batches sealed under
    an earlier TSA certificate of the same platform still verify (each token carries its
    signer's certificate, which must chain to the pinned root), and a TSA of another
    platform still fails."""
    import base64
    import itertools
    import json

    from cryptography.x509.oid import ExtendedKeyUsageOID

    from tsunagu.kernel import utcnow
    from tsunagu.mesh.api import message_view
    from tsunagu.trust import init_ca
    from tsunagu.trust.timestamp import EmbeddedTimestamper, TokenVerifier
    from tsunagu.trust.tsa import TimeStampAuthority

    platform = init_ca(settings)  # type: ignore[arg-type]
    serials = itertools.count(1)

    def tsa_of(ca: PlatformCa) -> TimeStampAuthority:
        key = generate_key()
        usage = ExtendedKeyUsageOID.TIME_STAMPING
        cert = ca.issue_service(key.public_key(), "JP tsunagu TSA (renewed)", usage, utcnow())
        return TimeStampAuthority(key, cert, [ca.issuing], platform.tsa.policy)

    def timestamper(tsa: TimeStampAuthority, ca: PlatformCa) -> EmbeddedTimestamper:
        def answer(query: bytes) -> bytes:
            return tsa.respond(query, lambda _r, _t: next(serials), utcnow())[0]

        return EmbeddedTimestamper(answer, TokenVerifier([ca.root], (ca.issuing,)))

    def finished(prefix: str, n: int) -> None:
        connection = session.connection()
        for i in range(n):
            values = {"client": str(NTA), "message_id": f"{prefix}-{i}", "service": "s",
                      "method": "GET"}  # fmt: skip
            record = messagelog.insert_record(connection, side="provider", **values)
            messagelog.finish_record(connection, record, status=200, response_digest="d")
        session.commit()

    config = SimpleNamespace(mesh_timeout=30)
    renewed = tsa_of(platform.ca)
    finished("before", 3)
    seal: Any = messagelog.seal_records
    sealed = seal(session_factory, config, timestamper(platform.tsa, platform.ca))
    finished("after", 2)
    sealed += seal(session_factory, config, timestamper(renewed, platform.ca))
    assert sealed == 5
    ca = {"root": messagelog.b64der(platform.ca.root),
          "issuing": [messagelog.b64der(platform.ca.issuing)]}  # fmt: skip
    header = messagelog.header(
        str(NTA), platform.ca.issuing, [], ca, messagelog.b64der(renewed.certificate)
    )
    lines = list(messagelog.export_with(header, session, message_view))
    report = messagelog.verify_export(lines, platform.ca.root)
    assert report.batches == 2
    assert not [f for f in report.failures if f.startswith("batch")], report.failures

    # The first batch's token replaced by one of a TSA under another platform's root.
    foreign_ca = PlatformCa.create(KeyStore.open(tmp_path / "foreign", dev_mode=True), "JP",
                                   utcnow())  # fmt: skip
    batch = json.loads(lines[1])
    token = timestamper(tsa_of(foreign_ca), foreign_ca).timestamp(bytes.fromhex(batch["root"]))
    batch["token"] = base64.b64encode(token).decode("ascii")
    report = messagelog.verify_export([lines[0], json.dumps(batch), *lines[2:]], platform.ca.root)
    assert [f for f in report.failures if f.startswith(f"batch {batch['id']}:")], report.failures


def test_a_trust_list_finds_a_member_s_node_among_thousands() -> None:
    """The consumer looks the provider's node up on every message: by id, not by a scan, and
    a member with no node URL (or none at all) is UnknownMember, not a crash."""
    from tsunagu.kernel.ids import corporate_number_check_digit
    from tsunagu.mesh.client import member_name, node_url_of
    from tsunagu.trust.trustlist import TrustList

    numbers = [
        f"{corporate_number_check_digit(base)}{base}"
        for base in (f"{400000000000 + k:012d}" for k in range(3000))
    ]
    members = [
        {
            "id": f"JP/MUN/{n}",
            "name": f"架空市{i}",
            "nodes": [{"id": f"JP/MUN/{n}/sub", "url": f"https://node{i}.example.test/"}],
        }
        for i, n in enumerate(numbers)
    ]
    members.append({"id": "JP/COM/5100000000002", "name": "ノード無し（架空）", "nodes": [{}]})
    now = datetime.now(UTC)
    trust = TrustList({"members": members}, now, now + timedelta(hours=1), "token")
    last = MemberId.parse(members[2999]["id"])  # type: ignore[arg-type]
    assert node_url_of(trust, last) == "https://node2999.example.test"
    assert member_name(trust, f"{members[5]['id']}/sub") == "架空市5"
    assert member_name(trust, "JP/GOV/8000012010038") == "JP/GOV/8000012010038"
    for missing in ("JP/COM/5100000000002", "JP/GOV/8000012010038"):
        with pytest.raises(MeshFault) as caught:
            node_url_of(trust, MemberId.parse(missing))
        assert caught.value.fault_type == "Server.ClientProxy.UnknownMember"


# -- odd input at a node's local API and /r1 (the node's schemathesis sweep) -----------------------


@pytest.mark.parametrize("row_id", [2**63, -(2**63) - 1, 2**70])
def test_ids_beyond_64_bits_are_no_rows(session: Session, row_id: int) -> None:
    """An id from a URL past SQLite's INTEGER was bound as is: OverflowError, a 500, on every
    route of the management API (and admin page) that names a row."""
    from tsunagu.kernel import NotFound
    from tsunagu.mesh import localtls

    for lookup in (
        services.get_service,
        services.delete_rule,
        localtls.revoke,
        push.resume,
        push.replay,
    ):
        with pytest.raises(NotFound):
            lookup(session, row_id)


def test_a_member_added_twice_to_a_group_is_a_conflict(session: Session) -> None:
    """The unique (group, member) failed the flush: an IntegrityError, a 500."""
    services.add_group_member(session, "tax", str(NTA))
    with pytest.raises(Conflict):
        services.add_group_member(session, "tax", str(NTA))
    services.add_group_member(session, "tax", str(WAKAYAMA))  # the session is still usable
    assert session.query(GroupMember).filter_by(group="tax").count() == 2


def test_a_trailing_line_break_is_not_part_of_an_identifier(session: Session) -> None:
    """``$`` matches before a final newline: ``code\\n``, ``group:g\\n``, a purpose ``p\\n``
    and a member subsystem ``sub\\n`` were stored, and published to the hub."""
    from tsunagu.trust.errors import InvalidMemberId

    with pytest.raises(ValidationProblem):
        services.declare_service(session, subsystem="s", code="c\n", title="t", backend="address")
    with pytest.raises(ValidationProblem):
        services.declare_service(session, subsystem="s\n", code="c", title="t", backend="address")
    with pytest.raises(ValidationProblem):
        services.add_group_member(session, "tax\n", str(NTA))
    with pytest.raises(ValidationProblem):
        services.check_client("group:tax\n")
    with pytest.raises(ValidationProblem):
        services.check_legal_basis("415AC0000000057/article/1\n")
    with pytest.raises(InvalidMemberId):
        MemberId.parse(f"{NTA}/sub\n")
    with pytest.raises(InvalidMemberId):
        MemberId.parse("JP\n/GOV/7000012050002")
    service = services.declare_service(
        session, subsystem="s", code="c", title="t", backend="address"
    )
    with pytest.raises(ValidationProblem):
        services.add_rule(session, service.id, str(NTA), ["p\n"], "415AC0000000057/article/1")


@pytest.mark.parametrize(
    ("service", "purpose", "client", "fault"),
    [
        (f"{WAKAYAMA}/residents/bäsic4", "tax", None, "Client.InvalidServiceIdentifier"),
        (f"{WAKAYAMA}/resi dents/basic4", "tax", None, "Client.InvalidServiceIdentifier"),
        (f"{WAKAYAMA}/residents/basic4", "税務", None, "Client.InvalidRequest"),
        (f"{WAKAYAMA}/residents/basic4", "tax", f"{NTA}/税", "Client.InvalidClientIdentifier"),
    ],
)
def test_a_subscription_request_checks_what_travels_in_headers(
    service: str, purpose: str, client: str | None, fault: str
) -> None:
    """Service id, purpose and client go out as headers: a non-ASCII one failed to encode in
    httpx (UnicodeEncodeError, a 500) instead of being refused."""
    from tsunagu.mesh.node import request_subscription

    rt: Any = SimpleNamespace(member_base=str(NTA))  # nothing else is reached
    with pytest.raises(MeshFault) as caught:
        request_subscription(rt, None, service, "resident.", purpose, None, client)  # type: ignore[arg-type]
    assert caught.value.fault_type == fault


def test_headers_forwarded_from_a_local_system_must_be_ascii() -> None:
    """A Latin-1 byte in X-Road-Id or Tsunagu-Purpose went out as UTF-8, other bytes than the
    consumer signed: the provider refused the signature, and the local system got a 502
    ``Server.ClientProxy.InvalidResponse`` for its own bad header."""
    assert protocol.forwardable([("X-Road-Id", "abc"), ("Accept", "é")]) == {"x-road-id": "abc"}
    for name in ("X-Road-Id", "Tsunagu-Purpose", "X-Road-UserId", "Tsunagu-Person"):
        with pytest.raises(MeshFault) as caught:
            protocol.forwardable([(name, "ü".encode().decode("latin-1"))])
        assert caught.value.fault_type == "Client.InvalidRequest" and caught.value.status == 400


def test_the_rest_of_a_service_path_reaches_the_backend_as_sent() -> None:
    """The provider appended the *decoded* rest of the path to the backend URL and sent it
    unquoted: ``%20`` put a space in the backend's request line, ``%3F`` began a query and
    ``%2F`` split a segment — not the request the consumer signed."""
    from starlette.requests import Request

    from tsunagu.mesh.provider import _service_of

    service = "JP/COM/4100000000003/bench/echo"
    raw = f"/mesh/v1/{service}/x%20y/a%2Fb%3Fc=1"
    scope = {"type": "http", "method": "GET", "path": "/unused", "raw_path": raw.encode(),
             "query_string": b"", "headers": []}  # fmt: skip
    rt: Any = SimpleNamespace(member_base="JP/COM/4100000000003")
    assert _service_of(rt, Request(scope), service) == (("bench", "echo"), "/x%20y/a%2Fb%3Fc=1")
    # the service id itself is decoded; one segment that decodes to a slash names no service
    assert protocol.service_path("/r1/JP/COM/4100000000003/bench/ec%68o", "/r1/") == (
        ["JP", "COM", "4100000000003", "bench", "echo"],
        "",
    )
    for bad in ("/r1/JP/COM/4100000000003/bench%2Fecho/x", "/r1/JP/COM", "/r1/JP/COM/1/%ff/x"):
        with pytest.raises(MeshFault) as caught:
            protocol.service_path(bad, "/r1/")
        assert caught.value.fault_type == "Client.InvalidServiceIdentifier"


def test_the_node_client_adds_no_content_type_it_was_not_given() -> None:
    """aiohttp gave a POST, PUT or PATCH without Content-Type ``application/octet-stream``,
    after the consumer had signed the headers: the provider refused the signature, so every
    such call through /r1 (an empty POST too) was a 502."""
    import asyncio
    import socket
    import threading

    from tsunagu.mesh.transport import NodeHttp

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(2)
    seen: list[bytes] = []

    def serve() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                seen.append(data.split(b"\r\n\r\n", 1)[0].lower())
                conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/x"

    async def calls() -> list[int]:
        http = NodeHttp(None, 10)
        try:
            empty = await http.request("POST", url, content=b"", headers={"x-road-id": "1"})
            body = await http.request("PUT", url, content=b"abc", headers={"x-road-id": "2"})
            return [empty.status, body.status]
        finally:
            await http.aclose()

    try:
        assert asyncio.run(calls()) == [204, 204]
    finally:
        thread.join(10)
        server.close()
    assert len(seen) == 2 and not any(b"\r\ncontent-type:" in head for head in seen), seen


def _version(session: Session) -> int:
    return int(session.execute(select(AccessVersion.version)).scalar_one())


def test_every_change_to_services_rules_and_groups_raises_the_access_version(
    session: Session,
) -> None:
    """Triggers, not the ORM: a change by SQL of any kind moves the version (another process,
    the CLI and an operator's psql write through the same tables)."""
    url = {"backend": "url", "backend_url": "http://127.0.0.1:9/"}
    seen = [_version(session)]

    def moved() -> bool:
        seen.append(_version(session))
        return seen[-1] > seen[-2]

    service = services.declare_service(session, subsystem="reg", code="v", title="v", **url)
    assert moved()
    rule = AccessRule(service_id=service.id, client=str(NTA), purposes=["p"], legal_basis="")
    session.add(rule)
    session.flush()
    assert moved()
    services.add_group_member(session, "tax", str(NTA))
    session.flush()
    assert moved()
    rules, groups = AccessRule.__table__, GroupMember.__table__
    session.execute(update(rules).where(rules.c.id == rule.id).values(purposes=["q"]))
    assert moved()
    session.execute(delete(groups).where(groups.c.member == str(NTA)))
    assert moved()
    session.execute(delete(rules).where(rules.c.id == rule.id))
    assert moved()
    session.execute(
        update(MeshService.__table__).where(MeshService.id == service.id).values(title="w")
    )
    assert moved()
    assert _version(session) == seen[-1]  # a read changes nothing
    session.execute(update(MessageRecord.__table__).values(status=1))  # other tables: no
    assert not moved()


def test_the_access_cache_keeps_a_decision_under_its_version(session: Session) -> None:
    url = {"backend": "url", "backend_url": "http://127.0.0.1:9/"}
    service = services.declare_service(session, subsystem="reg", code="c", title="c", **url)
    rules = AccessRule.__table__
    session.execute(
        rules.insert().values(
            service_id=service.id, client=str(NTA), purposes=["p"], legal_basis=""
        )
    )
    connection = session.connection()
    cache = services.AccessCache()
    client = f"{NTA}/x"
    version, found, rule, cached = cache.lookup(connection, "reg", "c", client)
    assert not cached and found is not None and rule is not None and rule.purposes == ["p"]
    assert version == _version(session)
    # A change the cache cannot see by itself (SQL, as from another process) ...
    session.execute(update(rules).where(rules.c.service_id == service.id).values(purposes=["z"]))
    again = cache.lookup(connection, "reg", "c", client)
    assert again == (version, found, rule, True)  # ... leaves the kept decision as it was,
    assert _version(session) != version  # ... but not the version the provider reads back,
    fresh = cache.read(connection, "reg", "c", client)  # ... so it reads again:
    assert fresh[0] == _version(session) and fresh[2] is not None and fresh[2].purposes == ["z"]
    assert cache.lookup(connection, "reg", "c", client)[1:] == (*fresh[1:], True)
    session.execute(delete(MeshService.__table__).where(MeshService.id == service.id))
    assert cache.read(connection, "reg", "c", client) == (None, None, None)
    assert cache.lookup(connection, "reg", "c", client) == (None, None, None, False)  # dropped
    assert cache.lookup(connection, "reg", "unknown", client) == (None, None, None, False)
