"""The signed trust list: served, verified against the pinned root, cached, refused when expired."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tsunagu.kernel import Settings, utcnow
from tsunagu.trust import (
    CertificateRejected,
    Hub,
    TrustListCache,
    TrustListRejected,
    issue_node_certificate,
    revoke_certificate,
    verify_trust_list,
)
from tsunagu.trust.ca import PlatformCa
from tsunagu.trust.jws import b64url, b64url_decode
from tsunagu.trust.keys import KeyStore, generate_key
from tsunagu.trust.trustlist import build_trust_list, sign_trust_list

from .conftest import make_csr


def _signed(session: Session, hub: Hub, now: datetime | None = None, validity: int = 600) -> str:
    document = build_trust_list(
        session, hub, base_url="http://hub.example", validity_seconds=validity, now=now
    )
    return sign_trust_list(document, hub)


def test_lists_members_nodes_tsa_and_revocations(session: Session, hub: Hub, member: str) -> None:
    kept = issue_node_certificate(
        session, hub, make_csr(generate_key()), member, "https://n1.example"
    )
    gone = issue_node_certificate(
        session, hub, make_csr(generate_key()), member, "https://n2.example"
    )
    revoke_certificate(session, gone.serial)
    checked = verify_trust_list(_signed(session, hub), hub.ca.root)
    doc = checked.document
    assert doc["instance"] == "JP"
    [entry] = doc["members"]
    assert entry["id"] == "JP/GOV/8000012050001" and entry["name"] == "テスト市"
    assert [n["serial"] for n in entry["nodes"]] == [kept.serial]
    assert entry["nodes"][0]["url"] == "https://n1.example"
    assert doc["revoked"][0]["serial"] == gone.serial
    assert doc["tsa"]["url"] == "http://hub.example/tsa"
    assert doc["log"]["vkey"] is None  # placeholder until the log key is configured
    assert checked.expires_at - checked.issued_at == timedelta(seconds=600)
    from cryptography import x509

    node = x509.load_pem_x509_certificate(kept.certificate_pem.encode())
    assert checked.check_node(node) == "JP/GOV/8000012050001/node1"
    revoked = x509.load_pem_x509_certificate(gone.certificate_pem.encode())
    with pytest.raises(CertificateRejected, match="revoked"):
        checked.check_node(revoked)


def test_expired_list_is_refused(session: Session, hub: Hub) -> None:
    token = _signed(session, hub, validity=60)
    with pytest.raises(TrustListRejected, match="expired"):
        verify_trust_list(token, hub.ca.root, utcnow() + timedelta(seconds=61))


def test_tampered_list_is_refused(session: Session, hub: Hub) -> None:
    head, payload, sig = _signed(session, hub).split(".")
    document = json.loads(b64url_decode(payload))
    document["expires_at"] = "2099-01-01T00:00:00Z"
    forged = f"{head}.{b64url(json.dumps(document).encode())}.{sig}"
    with pytest.raises(TrustListRejected, match="signature"):
        verify_trust_list(forged, hub.ca.root)
    with pytest.raises(TrustListRejected):
        verify_trust_list(f"{head}.{payload}.{sig[:-4]}AAAA", hub.ca.root)


def test_list_signed_under_another_root_is_refused(
    session: Session, hub: Hub, tmp_path: Path
) -> None:
    other = PlatformCa.create(KeyStore(tmp_path / "o", b"x"), "JP", utcnow())
    with pytest.raises(TrustListRejected, match="not trusted"):
        verify_trust_list(_signed(session, hub), other.root)


def test_node_certificate_cannot_sign_a_trust_list(session: Session, hub: Hub, member: str) -> None:
    node_key = generate_key()
    row = issue_node_certificate(session, hub, make_csr(node_key), member)
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(row.certificate_pem.encode())
    impostor = Hub(hub.ca, hub.tsa, node_key, cert, "JP", True)
    with pytest.raises(TrustListRejected, match="not trusted"):
        verify_trust_list(_signed(session, impostor), hub.ca.root)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none"},
        {"alg": "HS256", "x5c": []},
        {"alg": "ES256"},
        {"alg": "ES256", "x5c": ["!"]},
    ],
)
def test_malformed_headers_are_refused(
    session: Session, hub: Hub, header: dict[str, object]
) -> None:
    _, payload, sig = _signed(session, hub).split(".")
    token = f"{b64url(json.dumps(header).encode())}.{payload}.{sig}"
    with pytest.raises(TrustListRejected):
        verify_trust_list(token, hub.ca.root)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


class FlakyHub:
    """The hub as a node sees it: serves the list until it goes down."""

    def __init__(self, make: Callable[[], str]) -> None:
        self.make = make
        self.up = True
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if not self.up:
            raise ConnectionError("hub unreachable")
        return self.make()


def test_hub_outage_shorter_than_validity_stops_nothing(session: Session, hub: Hub) -> None:
    clock = Clock()
    fetch = FlakyHub(lambda: _signed(session, hub, clock.now, validity=600))
    cache = TrustListCache(fetch, hub.ca.root, refresh_seconds=60, clock=clock)
    first = cache.current()
    fetch.up = False
    for minutes in (1, 3, 9):
        clock.now = first.issued_at + timedelta(minutes=minutes)
        assert cache.current() is first
    assert "unreachable" in (cache.last_error or "")
    assert fetch.calls >= 3
    clock.now = first.expires_at + timedelta(seconds=1)
    with pytest.raises(TrustListRejected, match="expired"):
        cache.current()
    fetch.up = True  # the hub is back: the node recovers by itself
    clock.now += timedelta(minutes=1)
    assert cache.current().issued_at > first.issued_at


def test_cache_ignores_an_older_list_and_refuses_without_any(session: Session, hub: Hub) -> None:
    clock = Clock()
    old = _signed(session, hub, clock.now - timedelta(minutes=5))
    new = _signed(session, hub, clock.now)
    served = [new, old]
    cache = TrustListCache(lambda: served.pop(0), hub.ca.root, refresh_seconds=0, clock=clock)
    assert cache.current().token == new
    assert cache.current().token == new  # the replayed older list is not taken
    empty = TrustListCache(lambda: "garbage", hub.ca.root, clock=clock)
    with pytest.raises(TrustListRejected, match="no trust list"):
        empty.current()


def test_get_trust_list_route(client: TestClient, settings: Settings) -> None:
    reply = client.get("/trust/list")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/jose")
    from cryptography import x509

    root = x509.load_pem_x509_certificate(
        (settings.data_dir / "trust" / "root-ca.pem").read_bytes()
    )
    checked = verify_trust_list(reply.text, root)
    assert checked.document["development"] is True
    crl = client.get("/trust/crl")
    assert crl.status_code == 200
    x509.load_der_x509_crl(crl.content)
    assert base64.b64decode(checked.document["crl"])


def test_routes_answer_503_when_production_has_no_ca(
    settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    client.app.state.settings = settings.model_copy(  # type: ignore[attr-defined]
        update={"trust_dev_mode": False, "trust_dir": tmp_path / "none",
                "trust_key_passphrase_file": tmp_path / "kek"}
    )  # fmt: skip
    (tmp_path / "kek").write_text("k")
    reply = client.get("/trust/list")
    assert reply.status_code == 503
    assert reply.json()["type"].endswith("trust-not-configured")
