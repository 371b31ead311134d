"""The mesh across real processes: a hub and four nodes on loopback, HTTP and mutual TLS.

Query/provide with access rules and purposes, the message logs, the transparency log, push,
and the attacks of the issue: tampering (in transit and in the message), replays, foreign and
revoked certificates, unknown services, a client calling as another member, missing purpose,
oversized bodies and slow clients. The revocation test changes the trust list; it runs last.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.mesh.conftest import Running, wait_for
from tsunagu.ledger import records_for_person
from tsunagu.mesh import protocol
from tsunagu.mesh.models import MessageRecord
from tsunagu.trust.ca import MemberId, PlatformCa
from tsunagu.trust.jws import MessageSigner
from tsunagu.trust.keys import KeyStore, generate_key

WAKAYAMA = "JP/MUN/6000020302015"
NTA = "JP/GOV/7000012050002"
UTILITY = "JP/COM/5100000000019"
BASIC4 = f"{WAKAYAMA}/residents/basic4"
CORPORATIONS = f"{NTA}/houjin/corporations"


def sample(running: Running, i: int = 0) -> dict[str, str]:
    return dict(running.description["samples"]["wakayama_residents"][i])


def engine_of(running: Running, name: str) -> Any:
    return running.engine(name)


def messages(running: Running, name: str) -> list[MessageRecord]:
    engine = engine_of(running, name)
    try:
        with Session(engine) as session:
            rows = list(session.scalars(select(MessageRecord).order_by(MessageRecord.id)))
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


# -- query/provide ------------------------------------------------------------------------------


def test_an_allowed_query_returns_the_persons_address_and_is_logged_everywhere(
    federation: Running,
) -> None:
    person = sample(federation)
    with federation.hub() as hub:
        before = int(hub.get("/log/checkpoint").text.splitlines()[1])
    response = federation.r1(
        "nta",
        BASIC4,
        person=person["nta_pseudonym"],
        params={"items": "name,address"},
        headers={"X-Road-Issue": "case-2026-001", "X-Road-UserId": "t1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"name", "address", "status", "valid_from"}
    assert body["address"]["lg_code"] == "302015"
    assert body["address"]["text"].startswith("和歌山県和歌山市")
    assert "birth_date" not in body  # only the items asked for
    assert response.headers["x-road-request-hash"]
    xroad_id = response.headers["x-road-id"]

    consumer = [m for m in messages(federation, "nta") if m.xroad_id == xroad_id]
    provider = [m for m in messages(federation, "wakayama") if m.xroad_id == xroad_id]
    assert len(consumer) == 1 and len(provider) == 1
    assert consumer[0].message_id == provider[0].message_id  # the same message on both sides
    assert provider[0].purpose == "tax-assessment" and provider[0].status == 200
    assert provider[0].legal_basis == "415AC0000000057/article/69/paragraph/2/item/3"
    assert provider[0].issue == "case-2026-001" and provider[0].user_id == "t1"
    assert consumer[0].request_hash == response.headers["x-road-request-hash"]
    assert provider[0].request_signature and provider[0].response_signature

    # The access becomes a transparency-log entry at the hub, under the provider's pseudonym.
    with federation.hub() as hub:
        wait_for(
            lambda: int(hub.get("/log/checkpoint").text.splitlines()[1]) > before,
            30,
            "a new transparency-log entry",
        )
    engine = engine_of(federation, "hub")
    try:
        with Session(engine) as session:
            ours = [
                r
                for r in _records_of(session, WAKAYAMA)
                if r["record"]["message_id"] == provider[0].message_id
            ]
    finally:
        engine.dispose()
    assert len(ours) == 1
    record = ours[0]["record"]
    assert record["requester"]["id"] == NTA and record["requester"]["name"] == "国税庁"
    assert record["purpose"] == "tax-assessment" and record["case_id"] == "case-2026-001"
    assert record["data_items"] == ["name", "address"]
    assert record["pseudonym"] != person["nta_pseudonym"]  # the provider's own pseudonym


def _records_of(session: Session, provider: str) -> list[dict[str, Any]]:
    from tsunagu.ledger.models import AccessRecord

    pseudonyms = set(
        session.scalars(select(AccessRecord.pseudonym).where(AccessRecord.provider_id == provider))
    )
    out: list[dict[str, Any]] = []
    for pseudonym in pseudonyms:
        out += records_for_person(session, provider, pseudonym)
    return out


def test_a_purpose_the_rule_does_not_allow_is_refused_and_logged(federation: Running) -> None:
    person = sample(federation)
    response = federation.r1("nta", BASIC4, purpose="marketing", person=person["nta_pseudonym"])
    assert response.status_code == 403
    assert response.json()["type"] == "Server.ServerProxy.AccessDenied"
    assert "marketing" in response.json()["message"]
    refused = [
        m for m in messages(federation, "wakayama") if m.xroad_id == response.headers["x-road-id"]
    ]
    assert [(m.status, m.error_type) for m in refused] == [(403, "Server.ServerProxy.AccessDenied")]


def test_a_request_without_purpose_never_leaves_the_consumer(federation: Running) -> None:
    response = federation.r1(
        "nta", BASIC4, purpose=None, person=sample(federation)["nta_pseudonym"]
    )
    assert response.status_code == 400
    assert response.json()["type"] == "Client.MissingHeaderField"
    assert not [
        m for m in messages(federation, "wakayama") if m.xroad_id == response.headers["x-road-id"]
    ]


def test_deny_by_default_and_legal_basis_must_match(federation: Running) -> None:
    response = federation.r1(
        "utility", BASIC4, purpose="tax-assessment", person=sample(federation)["nta_pseudonym"]
    )
    assert response.status_code == 403
    assert response.json()["type"] == "Server.ServerProxy.AccessDenied"
    wrong = federation.r1(
        "nta",
        BASIC4,
        person=sample(federation)["nta_pseudonym"],
        headers={"Tsunagu-Legal-Basis": "415AC0000000057/article/1"},
    )
    assert wrong.status_code == 403 and "legal basis" in wrong.json()["message"]


def test_a_non_personal_service_through_the_mesh(federation: Running) -> None:
    response = federation.r1(
        "utility", CORPORATIONS, purpose="customer-check", path="/7010001008844"
    )
    assert response.status_code == 200, response.text
    assert response.json()["corporate_number"] == "7010001008844"
    missing = federation.r1("utility", CORPORATIONS, purpose="customer-check", path="/bad")
    assert missing.status_code in (404, 422)  # the registry's own answer, passed through signed


def test_unknown_person_and_unknown_service(federation: Running) -> None:
    unknown = federation.r1("nta", BASIC4, person="a" * 26)
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "Client.UnknownPerson"
    service = federation.r1("nta", f"{WAKAYAMA}/residents/nothing", person="x")
    assert service.status_code == 404
    assert service.json()["type"] == "Server.ServerProxy.UnknownService"
    member = federation.r1("nta", "JP/GOV/3000012010001/x/y")
    assert member.status_code == 404
    assert member.json()["type"] == "Server.ClientProxy.UnknownMember"


@pytest.mark.parametrize("as_of", ["2026-13-45", "20260101", "yesterday"])
def test_a_bad_as_of_date_is_the_consumer_s_error(federation: Running, as_of: str) -> None:
    """The provider read ``as_of`` with date.fromisoformat inside its worker thread: a bad
    date was a 500 (Server.ServerProxy.InternalError), and '20260101' was taken as a date."""
    person = sample(federation)
    answer = federation.r1(
        "nta", BASIC4, person=person["nta_pseudonym"], params={"as_of": as_of, "items": "name"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "Client.InvalidRequest"
    assert "as_of must be a date YYYY-MM-DD" in answer.json()["message"]
    fine = federation.r1(
        "nta", BASIC4, person=person["nta_pseudonym"], params={"as_of": "2026-01-01"}
    )
    assert fine.status_code in (200, 404), fine.text  # a date: served (404 before move-in)


def test_local_systems_must_authenticate_and_speak_for_their_own_member(
    federation: Running,
) -> None:
    node = federation.node("nta")
    anonymous = httpx.get(
        f"{node['url']}/r1/{BASIC4}", headers={"X-Road-Client": NTA, "Tsunagu-Purpose": "x"}
    )
    assert anonymous.status_code == 401 and anonymous.json()["type"] == "Client.Unauthorized"
    other = federation.r1("nta", BASIC4, client=UTILITY)
    assert other.status_code == 403
    assert other.json()["type"] == "Client.InvalidClientIdentifier"
    missing = federation.r1("nta", BASIC4, client="")
    assert missing.json()["type"] in ("Client.MissingHeaderField", "Client.InvalidClientIdentifier")
    bad_path = federation.r1("nta", "JP/GOV")
    assert bad_path.json()["type"] == "Client.InvalidServiceIdentifier"
    for bare in ("/r1", "/r1/"):  # no service at all: a fault at once, not a redirect
        with federation.local("nta") as http:
            nothing = http.get(bare, headers={"X-Road-Client": NTA, "Tsunagu-Purpose": "x"})
        assert nothing.status_code == 400, (bare, nothing.status_code, nothing.text)
        assert nothing.json()["type"] == "Client.InvalidServiceIdentifier"


def test_oversized_body_is_refused(federation: Running) -> None:
    response = federation.r1(
        "utility", CORPORATIONS, purpose="customer-check", method="POST", content=b"x" * 2_100_000
    )
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
        for _ in range(40):
            yield b"x" * 60_000

    streamed = federation.r1(
        "utility", CORPORATIONS, purpose="customer-check", method="POST", content=chunks()
    )
    assert streamed.status_code == 413
    # X-Road's error, though the request middleware refuses it before /r1 reads the body
    # (it was problem+json)
    for refused in (response, streamed):
        assert refused.headers["content-type"] == "application/json"
        assert refused.json()["type"] == "Client.BodyTooLarge", refused.text
    # /r1 is served ahead of the router, still inside the request middleware
    assert streamed.headers["x-content-type-options"] == "nosniff"
    assert streamed.headers["x-request-id"]


def test_odd_requests_through_r1_get_the_provider_s_answer_or_an_x_road_error(
    federation: Running,
) -> None:
    """Found by fuzzing a node's local app: each was a 502 from the consumer node, a
    problem+json, or the backend called with another path than the consumer signed."""
    node = federation.node("utility")

    def call(path: str = "/7010001008844", **kwargs: Any) -> httpx.Response:
        return federation.r1("utility", CORPORATIONS, purpose="customer-check", path=path, **kwargs)

    # No Content-Type (an empty POST too): the node's HTTP client added one after the headers
    # were signed, the provider refused the signature, the consumer answered 502.
    for content in (b"", b"{}"):
        posted = call(method="POST", content=content)
        assert posted.status_code == 405, posted.text  # the registry's own answer, signed
    # A header that is not ASCII went out as other bytes than were signed: also a 502.
    latin = httpx.get(
        f"{node['url']}/r1/{CORPORATIONS}/7010001008844",
        headers={"Authorization": f"Bearer {node['token']}", "X-Road-Client": UTILITY,
                 "Tsunagu-Purpose": "customer-check", "X-Road-UserId": "é".encode()},
    )  # fmt: skip
    assert latin.status_code == 400, latin.text
    assert latin.json()["type"] == "Client.InvalidRequest" and "x-road-userid" in latin.text
    # The rest of the path reaches the registry as sent: %3F was decoded into a query, so this
    # found 7010001008844.
    encoded = call(path="/7010001008844%3Fx=1")
    assert encoded.status_code in (404, 422), encoded.text
    # What the request middleware refuses before /r1 (a NUL in the URL) is X-Road's error too.
    nul = call(path="/a%00b")
    assert nul.status_code == 400 and nul.json()["type"] == "Client.InvalidRequest", nul.text
    assert call().status_code == 200  # and the node goes on serving


def test_the_management_api_refuses_odd_ids_offsets_and_duplicates(federation: Running) -> None:
    """Found by fuzzing a node's local app: each of these was a 500."""
    huge = 2**70
    with federation.local("bunkyo") as http:
        for method, path in [
            ("DELETE", f"/api/v1/mesh/services/{huge}"),
            ("GET", f"/api/v1/mesh/services/{huge}/rules"),
            ("DELETE", f"/api/v1/mesh/rules/-{huge}"),
            ("POST", f"/api/v1/mesh/local-certificates/{huge}/revoke"),
            ("POST", f"/api/v1/mesh/subscriptions/{huge}/resume"),
            ("POST", f"/api/v1/mesh/dead-letters/{huge}/replay"),
        ]:
            assert http.request(method, path).status_code == 404, path
        for listing in ("inbox", "dead-letters", "messages"):
            paged = http.get(f"/api/v1/mesh/{listing}", params={"offset": 2**63})
            assert paged.status_code == 422, (listing, paged.text)
        first = http.post("/api/v1/mesh/groups/fuzz/members", json={"member": NTA})
        again = http.post("/api/v1/mesh/groups/fuzz/members", json={"member": NTA})
        assert (first.status_code, again.status_code) == (201, 409), again.text


# -- messages crafted as a node -----------------------------------------------------------------


def _raw(
    running: Running,
    as_node: str,
    to_node: str,
    *,
    client: str | None = None,
    target: str | None = None,
    body: bytes = b"",
    alter: Any = None,
    message_id: str | None = None,
    now: float | None = None,
    signer: MessageSigner | None = None,
) -> httpx.Response:
    identity = running.identity(as_node)
    provider = running.node(to_node)
    service = BASIC4 if to_node == "wakayama" else CORPORATIONS
    target = target or f"/mesh/v1/{service}"
    headers = {
        protocol.XROAD_CLIENT: client or running.node(as_node)["member"],
        protocol.XROAD_SERVICE: service,
        protocol.PURPOSE: "tax-assessment",
        protocol.PERSON: sample(running)["nta_pseudonym"],
    }
    signed = protocol.sign_headers(
        signer or identity.signer, "GET", target, headers, body, message_id=message_id, now=now
    )
    if alter is not None:
        alter(signed)
    with httpx.Client(verify=identity.client_context(), timeout=30) as http:
        return http.request("GET", provider["mesh_url"] + target, headers=signed, content=body)


def test_a_signed_message_from_the_right_node_is_served(federation: Running) -> None:
    response = _raw(federation, "nta", "wakayama")
    assert response.status_code == 200, response.text
    assert response.headers[protocol.STATUS] == "200"
    assert response.headers[protocol.SIGNATURE]


def test_a_replayed_message_is_refused(federation: Running) -> None:
    first = _raw(federation, "nta", "wakayama", message_id="replay-test-1")
    again = _raw(federation, "nta", "wakayama", message_id="replay-test-1")
    assert first.status_code == 200
    assert again.status_code == 409 and again.json()["type"] == "Client.DuplicateMessage"
    old = _raw(federation, "nta", "wakayama", now=time.time() - 3600)
    assert old.status_code == 401 and old.json()["type"] == "Server.ServerProxy.MessageExpired"


@pytest.mark.parametrize("change", ["body", "purpose", "client-subsystem", "signature", "unsigned"])
def test_tampered_messages_are_refused(federation: Running, change: str) -> None:
    def alter(headers: dict[str, str]) -> None:
        if change == "purpose":
            headers[protocol.PURPOSE] = "tax-address-update"
        elif change == "client-subsystem":
            headers[protocol.XROAD_CLIENT] = NTA + "/other"
        elif change == "signature":
            head, _, sig = headers[protocol.SIGNATURE].split(".")
            headers[protocol.SIGNATURE] = f"{head}..{sig[:-4]}AAAA"
        elif change == "unsigned":
            del headers[protocol.SIGNATURE]

    if change == "body":
        identity = federation.identity("nta")
        target = f"/mesh/v1/{BASIC4}"
        headers = {
            protocol.XROAD_CLIENT: NTA,
            protocol.XROAD_SERVICE: BASIC4,
            protocol.PURPOSE: "tax-assessment",
            protocol.PERSON: sample(federation)["nta_pseudonym"],
        }
        signed = protocol.sign_headers(identity.signer, "POST", target, headers, b'{"a":1}')
        with httpx.Client(verify=identity.client_context(), timeout=30) as http:
            response = http.post(
                federation.node("wakayama")["mesh_url"] + target, headers=signed, content=b'{"a":2}'
            )
    else:
        response = _raw(federation, "nta", "wakayama", alter=alter)
    assert response.status_code == 401, response.text
    assert response.json()["type"] in (
        "Server.ServerProxy.InvalidSignatureValue",
        "Server.ServerProxy.MissingSignature",
    )


def test_a_node_cannot_call_as_another_member(federation: Running) -> None:
    response = _raw(federation, "utility", "wakayama", client=NTA)
    assert response.status_code == 403
    assert response.json()["type"] == "Server.ServerProxy.InvalidClientIdentifier"
    # signed with another key than the certificate's: the kid does not match
    stranger = MessageSigner(generate_key(), federation.identity("utility").fingerprint)
    forged = _raw(federation, "utility", "wakayama", signer=stranger)
    assert forged.status_code == 401


def test_a_foreign_certificate_cannot_even_connect(federation: Running, tmp_path: Any) -> None:
    store = KeyStore(tmp_path, b"x")
    other = PlatformCa.create(store, "JP", datetime.now(UTC))
    key = generate_key()
    from tsunagu.mesh.identity import make_csr

    csr = make_csr(key, MemberId.parse(NTA), "https://127.0.0.1")
    cert = other.issue_node(csr, MemberId.parse(NTA), "https://127.0.0.1", datetime.now(UTC))
    pem = serialization.Encoding.PEM
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(pem) + other.issuing.public_bytes(pem))
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(
        cafile=str(federation.fed.root / "nodes" / "nta" / "trust" / "anchor.pem")
    )
    context.load_cert_chain(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    with pytest.raises(httpx.HTTPError):
        httpx.get(federation.node("wakayama")["mesh_url"] + "/mesh/healthz", verify=context)
    # and without any client certificate
    plain = ssl.create_default_context(
        cafile=str(federation.fed.root / "nodes" / "nta" / "trust" / "anchor.pem")
    )
    with pytest.raises(httpx.HTTPError):
        httpx.get(federation.node("wakayama")["mesh_url"] + "/mesh/healthz", verify=plain)


def test_bytes_altered_in_transit_break_the_connection_not_the_node(federation: Running) -> None:
    """A proxy that flips one byte of the TLS stream: the record MAC fails, nothing is served."""
    upstream = int(federation.node("wakayama")["mesh_url"].rsplit(":", 1)[1])
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    flipped = threading.Event()
    flip_at = 5000  # past the handshake (about 2 kB from the client), inside the request

    def pump(source: socket.socket, sink: socket.socket, tamper: bool) -> None:
        seen = 0
        try:
            while data := source.recv(65536):
                if tamper and seen <= flip_at < seen + len(data):
                    at = flip_at - seen
                    data = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
                    flipped.set()
                seen += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def serve() -> None:
        with listener:
            client, _ = listener.accept()
            server = socket.create_connection(("127.0.0.1", upstream))
            back = threading.Thread(target=pump, args=(server, client, False))
            back.start()
            pump(client, server, True)
            back.join(10)
            client.close()
            server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    identity = federation.identity("nta")
    target = f"/mesh/v1/{BASIC4}"
    headers = {
        protocol.XROAD_CLIENT: NTA,
        protocol.XROAD_SERVICE: BASIC4,
        protocol.PURPOSE: "tax-assessment",
        protocol.PERSON: sample(federation)["nta_pseudonym"],
    }
    body = b"x" * 8000  # the request spans records after the handshake
    signed = protocol.sign_headers(identity.signer, "POST", target, headers, body)
    with (
        pytest.raises(httpx.HTTPError),
        httpx.Client(verify=identity.client_context(), timeout=10) as http,
    ):
        http.post(f"https://127.0.0.1:{port}{target}", headers=signed, content=body)
    thread.join(10)
    assert flipped.is_set()
    # the provider is still serving
    assert _raw(federation, "nta", "wakayama").status_code == 200


def test_a_slow_client_does_not_block_others(federation: Running) -> None:
    node = federation.node("wakayama")
    host, port = "127.0.0.1", int(node["url"].rsplit(":", 1)[1])
    slow = socket.create_connection((host, port))
    try:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        start = time.monotonic()
        assert httpx.get(node["url"] + "/healthz", timeout=10).status_code == 200
        assert _raw(federation, "nta", "wakayama").status_code == 200
        assert time.monotonic() - start < 10  # served while the slow client hangs
    finally:
        slow.close()


# -- management API bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subsystem": "bad/sub", "code": "x", "title": "t", "backend": "resident"}, "subsystem"),
        ({"subsystem": "s", "code": "", "title": "t", "backend": "resident"}, "code"),
        ({"subsystem": "s", "code": "c", "title": "t", "backend": "ftp"}, "backend"),
        (
            {
                "subsystem": "s",
                "code": "c",
                "title": "t",
                "backend": "url",
                "backend_url": "file:///x",
            },
            "backend_url",
        ),
        ({"subsystem": "s", "code": "c", "title": " ", "backend": "address"}, "title"),
        # a URL with no host, with credentials, or a port out of range
        *(
            ({"subsystem": "s", "code": "c", "title": "t", "backend": "url", "backend_url": u},
             "backend_url")
            for u in ("http://", "http://user:secret@backend.test/", "http://backend.test:99999/")
        ),
        *(
            ({"subsystem": "s", "code": "c", "title": "t", "backend": "address", "data_items": i},
             "data_items")
            for i in ([""], ["x" * 65], ["a,b"], ["birth date"])
        ),
        *(
            ({"subsystem": "s", "code": "c", "title": "t", "backend": "address", "event_types": e},
             "event_types")
            for e in ([""], ["Bad Type"], ["resident.moved\n"])
        ),
    ],
)  # fmt: skip
def test_bad_services_are_refused(federation: Running, body: dict[str, Any], field: str) -> None:
    with federation.local("bunkyo") as http:
        response = http.post("/api/v1/mesh/services", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"client": "JP/XXX/1", "purposes": ["a"], "legal_basis": "415AC0000000057/article/1"},
            "client",
        ),
        ({"client": NTA, "purposes": [], "legal_basis": "415AC0000000057/article/1"}, "purposes"),
        (
            {"client": NTA, "purposes": ["a b"], "legal_basis": "415AC0000000057/article/1"},
            "purposes",
        ),
        ({"client": NTA, "purposes": ["a"], "legal_basis": "Art19"}, "legal_basis"),
        (
            {"client": NTA, "purposes": ["a"], "legal_basis": "999AC0000000999/article/1"},
            "legal_basis",
        ),  # not in the laws registry
        (
            {
                "client": NTA,
                "purposes": ["a"],
                "legal_basis": "415AC0000000057/article/3/paragraph/9",
            },
            "legal_basis",
        ),  # the stored text has article 3 but no paragraph 9
    ],
)
def test_bad_access_rules_are_refused(
    federation: Running, body: dict[str, Any], field: str
) -> None:
    with federation.local("bunkyo") as http:
        service = http.get("/api/v1/mesh/services").json()["services"][0]["id"]
        response = http.post(f"/api/v1/mesh/services/{service}/rules", json=body)
        rules = http.get(f"/api/v1/mesh/services/{service}/rules").json()["rules"]
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert all(r["client"] != body["client"] or r["purposes"] != body["purposes"] for r in rules)


def test_management_api_needs_a_token_and_refuses_bad_persons(federation: Running) -> None:
    assert httpx.get(federation.node("bunkyo")["url"] + "/api/v1/mesh/services").status_code == 401
    with federation.local("utility") as http:  # holds no numbers
        response = http.post(
            "/api/v1/mesh/persons", json={"local_id": "x", "individual_number": "123456789012"}
        )
        assert response.status_code == 422
    with federation.local("nta") as http:
        response = http.post(
            "/api/v1/mesh/persons", json={"local_id": "x", "individual_number": "123456789012"}
        )
        assert response.status_code == 422 and response.json()["field"] == "individual_number"


def test_services_and_rules_from_the_command_line(federation: Running) -> None:
    env = federation.fed.node_env(federation.fed.spec("bunkyo"))

    def tsunagu(*args: str) -> str:
        return federation.fed.run(env, "node", *args)

    out = tsunagu(
        "service-add",
        "--subsystem",
        "cli",
        "--code",
        "echo",
        "--title",
        "CLI test",
        "--backend",
        "url",
        "--backend-url",
        "http://127.0.0.1:9/",
    )
    service_id = out.split()[1].rstrip(":")

    def rule_add(basis: str) -> str:
        return tsunagu(
            "rule-add", service_id, "--client", NTA, "--purpose", "x", "--legal-basis", basis
        )

    with pytest.raises(RuntimeError, match="error: legal_basis is a unit"):
        rule_add("Art19")
    added = rule_add("415AC0000000057/article/1")
    listing = tsunagu("services")
    assert "/cli/echo" in listing and f"{NTA} for x on 415AC0000000057/article/1" in listing
    tsunagu("rule-remove", added.split()[1].rstrip(":"))
    assert f"{NTA} for x" not in tsunagu("services")
    with federation.hub() as hub:  # published to the hub
        ids = {s["id"] for s in hub.get("/mesh/hub/services").json()["services"]}
    assert "JP/MUN/6000020131059/cli/echo" in ids
    # the backend is down: the provider answers a signed ServiceFailed, nothing crashes
    again = rule_add("415AC0000000057/article/1")
    failed = federation.r1("nta", "JP/MUN/6000020131059/cli/echo", purpose="x")
    assert failed.status_code == 502
    assert failed.json()["type"] == "Server.ServerProxy.ServiceFailed"
    # The node keeps that decision (mesh.services.AccessCache); a rule removed by another
    # process refuses the very next message, and one added back admits it again.
    tsunagu("rule-remove", again.split()[1].rstrip(":"))
    refused = federation.r1("nta", "JP/MUN/6000020131059/cli/echo", purpose="x")
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"] == "Server.ServerProxy.AccessDenied"
    rule_add("415AC0000000057/article/1")
    assert federation.r1("nta", "JP/MUN/6000020131059/cli/echo", purpose="x").status_code == 502


class _Recorder(BaseHTTPRequestHandler):
    """A local system behind a provider node: records each request and answers JSON."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.seen.append({"method": self.command, "path": self.path, "headers": headers,
                          "body": body})  # fmt: skip
        answer = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_url_backend_gets_the_request_and_who_asks(federation: Running) -> None:
    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    _Recorder.seen = []
    try:
        with federation.local("bunkyo") as http:
            declared = http.post("/api/v1/mesh/services", json={
                "subsystem": "system", "code": "echo", "title": "A local system",
                "backend": "url", "backend_url": f"http://127.0.0.1:{backend.server_port}/base/",
            })  # fmt: skip
            assert declared.status_code == 201, declared.text
            rule = http.post(f"/api/v1/mesh/services/{declared.json()['id']}/rules", json={
                "client": NTA, "purposes": ["echo-check"],
                "legal_basis": "415AC0000000057/article/1",
            })  # fmt: skip
            assert rule.status_code == 201, rule.text
        service = "JP/MUN/6000020131059/system/echo"
        got = federation.r1("nta", service, purpose="echo-check", path="/a/b%20c?x=1&y=%E5%92%8C")
        assert got.status_code == 200, got.text
        sent = federation.r1("nta", service, purpose="echo-check", method="POST", path="/form",
                             headers={"X-Road-UserId": "clerk-7", "Content-Type": "text/plain"},
                             content="本文")  # fmt: skip
        assert sent.status_code == 200, sent.text
    finally:
        backend.shutdown()
        backend.server_close()
    first, second = _Recorder.seen
    # The rest of the path and the query as the local system sent them, under the backend's URL.
    assert (first["method"], first["path"]) == ("GET", "/base/a/b%20c?x=1&y=%E5%92%8C")
    assert got.json() == {"ok": True, "path": first["path"]}
    assert first["headers"]["x-road-client"] == NTA
    assert first["headers"]["x-road-id"] == got.headers["x-road-id"]
    assert "x-road-userid" not in first["headers"]  # none given: none invented, not an empty one
    assert (second["method"], second["path"], second["body"]) == ("POST", "/base/form", "本文")
    assert second["headers"]["x-road-userid"] == "clerk-7"
    assert second["headers"]["content-type"] == "text/plain"
    # Nothing of the mesh's own reaches the backend: tokens, purposes, signatures.
    for seen in (first, second):
        assert not {"authorization", "tsunagu-purpose", "tsunagu-signature"} & set(seen["headers"])


def test_the_admin_page_signs_in_with_a_token_and_manages_rules(federation: Running) -> None:
    import re

    node = federation.node("bunkyo")
    assert httpx.get(node["url"] + "/admin/mesh").status_code == 401
    denied = httpx.get(node["url"] + "/admin/mesh", auth=("ops", "tsu_wrong"))
    assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Basic")
    with httpx.Client(base_url=node["url"], auth=("ops", node["token"])) as http:
        page = http.get("/admin/mesh")
        assert page.status_code == 200
        assert "JP/MUN/6000020131059/address/lookup" in page.text
        service = re.search(r'action="/admin/mesh/services/(\d+)/rules"', page.text)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert service and csrf
        form = {
            "client": UTILITY + "/billing",
            "purposes": "address-lookup  billing",
            "legal_basis": "415AC0000000057/article/1",
        }
        no_csrf = http.post(f"/admin/mesh/services/{service.group(1)}/rules", data=form)
        assert no_csrf.status_code == 403
        bad = http.post(
            f"/admin/mesh/services/{service.group(1)}/rules",
            data={**form, "legal_basis": "Art19", "csrf_token": csrf.group(1)},
        )
        assert bad.status_code == 422 and "legal_basis is a unit" in bad.text
        assert 'value="address-lookup  billing"' in bad.text  # the form keeps what was typed
        added = http.post(
            f"/admin/mesh/services/{service.group(1)}/rules",
            data={**form, "csrf_token": csrf.group(1)},
        )
        assert added.status_code == 303
        page = http.get("/admin/mesh")
        assert (
            f"<code>{UTILITY}/billing</code>" in page.text
            and "address-lookup, billing" in page.text
        )
        rule = re.search(
            r'action="/admin/mesh/rules/(\d+)/delete">[^<]*<input[^>]*>'
            r"[^<]*<button",
            page.text,
        )
        with federation.local("bunkyo") as api:
            rules = api.get(f"/api/v1/mesh/services/{service.group(1)}/rules").json()["rules"]
        ours = [r for r in rules if r["client"] == UTILITY + "/billing"]
        assert len(ours) == 1 and ours[0]["purposes"] == ["address-lookup", "billing"]
        removed = http.post(
            f"/admin/mesh/rules/{ours[0]['id']}/delete", data={"csrf_token": csrf.group(1)}
        )
        assert removed.status_code == 303 and rule is not None
        assert f"<code>{UTILITY}/billing</code>" not in http.get("/admin/mesh").text


def test_subscriptions_need_an_allowing_rule(federation: Running) -> None:
    with federation.local("utility") as http:
        response = http.post(
            "/api/v1/mesh/subscriptions",
            json={"service": BASIC4, "event_type": "resident.person.", "purpose": "marketing"},
        )
    assert response.status_code == 422
    assert "AccessDenied" in response.json()["detail"]


def test_hub_refuses_bad_enrollments_and_unsigned_calls(federation: Running) -> None:
    with federation.hub() as hub:
        garbage = hub.post(
            "/mesh/hub/enrollments",
            json={"member_id": NTA, "node_url": "https://127.0.0.1:1", "csr": "not a csr"},
        )
        assert garbage.status_code == 422
        unknown = hub.post(
            "/mesh/hub/enrollments",
            json={
                "member_id": "JP/GOV/8000012010001",
                "node_url": "https://127.0.0.1:1",
                "csr": "x",
            },
        )
        assert unknown.status_code == 422
        plain = hub.post(
            "/mesh/hub/enrollments",
            json={"member_id": NTA, "node_url": "http://127.0.0.1:1", "csr": "x"},
        )
        assert plain.status_code == 422 and plain.json()["field"] == "node_url"
        unsigned = hub.post("/mesh/hub/pseudonyms", json={"links": []})
        assert unsigned.status_code == 401
        assert unsigned.json()["type"] == "Client.MissingSignature"
        listed = hub.get("/mesh/hub/services").json()["services"]
        assert {s["id"] for s in listed} >= {BASIC4, CORPORATIONS}
        trust = hub.get("/trust/list").text
    payload = json.loads(_b64(trust.split(".")[1]))
    assert {s["id"] for s in payload["services"]} >= {BASIC4, CORPORATIONS}


def _b64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_services_appear_in_the_catalog_as_data_services(federation: Running) -> None:
    engine = engine_of(federation, "hub")
    try:
        from tsunagu.catalog import DataService

        with Session(engine) as session:
            urls = set(session.scalars(select(DataService.endpoint_url)))
    finally:
        engine.dispose()
    assert federation.node("wakayama")["mesh_url"] + f"/mesh/v1/{BASIC4}" in urls


def test_metrics_count_per_service_and_client(federation: Running) -> None:
    federation.r1("nta", BASIC4, person=sample(federation)["nta_pseudonym"])
    text = httpx.get(federation.node("wakayama")["url"] + "/metrics").text
    line = [
        ln
        for ln in text.splitlines()
        if ln.startswith("tsunagu_mesh_requests_total{")
        and 'side="provider"' in ln
        and BASIC4 in ln
        and NTA in ln
        and 'status="2xx"' in ln
    ]
    assert line and float(line[0].rsplit(" ", 1)[1]) >= 1


def test_metrics_label_only_checked_ids(federation: Running) -> None:
    """A caller's free text never becomes a metrics label: each new label set is a series kept
    for the life of the process, so an unauthenticated caller could grow it without end."""
    url = federation.node("nta")["url"]
    marker = "NOT-A-MEMBER-4f2a"
    answer = httpx.get(
        f"{url}/r1/{BASIC4}",
        headers={"X-Road-Client": f"JP/GOV/{marker}", "Tsunagu-Purpose": "x"},
    )
    assert answer.status_code == 401
    text = httpx.get(f"{url}/metrics").text
    assert marker not in text
    refused = [
        ln
        for ln in text.splitlines()
        if ln.startswith("tsunagu_mesh_requests_total{")
        and 'side="consumer"' in ln
        and 'client="-"' in ln
        and 'status="4xx"' in ln
    ]
    assert refused and float(refused[0].rsplit(" ", 1)[1]) >= 1


# -- push ---------------------------------------------------------------------------------------


def test_a_move_reaches_each_subscribed_node_once_under_its_own_pseudonym(
    federation: Running,
) -> None:
    person = sample(federation, 1)
    with federation.local("wakayama") as http:
        moved = http.post(
            f"/api/v1/residents/302015/persons/{person['wakayama_resident_id']}/move-out",
            json={"moved_out_on": "2026-11-20", "moved_to": "東京都文京区本郷一丁目"},
        )
    assert moved.status_code == 200, moved.text

    def arrived(name: str, pseudonym: str) -> list[dict[str, Any]]:
        return [
            e
            for e in federation.sink(name)
            if e["body"]["subject"] == pseudonym
            and e["body"]["topic"] == "resident.person.moved_out"
        ]

    nta = wait_for(lambda: arrived("nta", person["nta_pseudonym"]), 60, "the NTA notification")
    bunkyo = wait_for(lambda: arrived("bunkyo", person["bunkyo_pseudonym"]), 60, "文京区's")
    time.sleep(1)  # nothing more arrives
    assert len(arrived("nta", person["nta_pseudonym"])) == 1
    assert len(arrived("bunkyo", person["bunkyo_pseudonym"])) == 1
    event = nta[0]["body"]
    assert event["provider"] == WAKAYAMA and event["service"] == BASIC4
    assert event["data"]["after"]["moved_to"] == "東京都文京区本郷一丁目"
    assert "resident_id" not in json.dumps(event)
    assert nta[0]["key"] == f"{WAKAYAMA}/{event['id']}" and bunkyo[0]["body"]["id"] == event["id"]
    assert person["wakayama_resident_id"] not in json.dumps(event)  # internal ids stay home


# -- revocation (changes the trust list: last) ----------------------------------------------------


def test_zz_a_revoked_node_is_refused(federation: Running) -> None:
    identity = federation.identity("utility")
    serial = format(identity.certificate.serial_number, "x")
    federation.fed.run(
        federation.fed.hub_env(), "trust", "revoke", serial, "--reason", "key_compromise"
    )

    last: list[Any] = []

    def refused() -> bool:
        response = federation.r1(
            "utility", CORPORATIONS, purpose="customer-check", path="/7010001008844"
        )
        last[:] = [response.status_code, response.text[:300]]
        body = response.json() if response.content else {}
        return body.get("type") == "Server.ServerProxy.SslAuthenticationFailed"

    # Within a few trust-list refreshes (1 s in the tests) the provider refuses the node.
    wait_for(refused, 60, "the revoked node refused")
    assert last[0] == 401, last
    # the others go on
    ok = federation.r1("nta", BASIC4, person=sample(federation, 2)["nta_pseudonym"])
    assert ok.status_code == 200
