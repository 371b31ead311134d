"""Local systems over HTTPS with client certificates (X-Road's information-system TLS), on real
processes: 国税庁's node serves its local app on an extra HTTPS port; a local system registered
with ``tsunagu node local-cert add`` calls ``/r1`` with its certificate and no token."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import _free_port
from tests.mesh.conftest import Running, build, started, wait_for
from tsunagu.mesh.localtls import self_signed

# An unknown client certificate fails the handshake; under TLS 1.3 the client learns it only
# when it reads (the server verifies after the client's Finished), hence the three kinds.
HANDSHAKE_REFUSED = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)
WAKAYAMA = "JP/MUN/6000020302015"
BASIC4 = f"{WAKAYAMA}/residents/basic4"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    fed, drops = build(tmp_path_factory.mktemp("localtls"), ("wakayama", "nta"), residents=10)
    fed.spec("nta").local_tls_port = _free_port()
    with started(fed, drops) as running:
        yield running


def local_system(directory: Path, name: str) -> tuple[Path, Path]:
    """A local system's own key and self-signed client certificate (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key, name, "localhost", client=True)
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def https(running: Running, cert: tuple[Path, Path] | None) -> httpx.Client:
    """A client that pins the node's (self-signed) listener certificate."""
    server = running.fed.root / "nodes" / "nta" / "local-tls" / "server.pem"
    context = ssl.create_default_context(cafile=str(server))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return httpx.Client(base_url=running.node("nta")["local_tls_url"], verify=context, timeout=60)


def ask(client: httpx.Client, running: Running) -> httpx.Response:
    person = running.description["samples"]["wakayama_residents"][0]["nta_pseudonym"]
    return client.get(
        f"/r1/{BASIC4}",
        params={"items": "name"},
        headers={
            "X-Road-Client": running.node("nta")["member"],
            "Tsunagu-Purpose": "tax-assessment",
            "Tsunagu-Person": person,
            "X-Road-Id": f"tls-{uuid.uuid4().hex[:8]}",
        },
    )


def cli(running: Running, *args: str) -> str:
    return running.fed.run(running.fed.node_env(running.fed.spec("nta")), "node", *args)


def test_a_registered_certificate_authenticates_a_local_system(
    pair: Running, tmp_path: Path
) -> None:
    assert pair.node("nta")["local_tls_url"].startswith("https://")
    billing = local_system(tmp_path, "billing")

    # not registered yet: the TLS handshake itself fails (the node does not trust it)
    with https(pair, billing) as client, pytest.raises(HANDSHAKE_REFUSED):
        ask(client, pair)
    # no certificate and no token: refused with X-Road's error shape
    with https(pair, None) as client:
        refused = ask(client, pair)
    assert refused.status_code == 401, refused.text
    assert refused.json()["type"] == "Client.Unauthorized"
    assert "registered client certificate" in refused.json()["message"]

    out = cli(pair, "local-cert", "add", "billing", str(billing[0]))
    assert out.startswith("registered #") and "CN=billing" in out
    certificate_id = out.split("#", 1)[1].split()[0]

    def answered() -> httpx.Response | None:
        try:
            with https(pair, billing) as client:
                got = ask(client, pair)
        except HANDSHAKE_REFUSED:  # the running node loads it within a few seconds
            return None
        return got

    response = wait_for(answered, 30, "the registered certificate accepted")
    assert response.status_code == 200, response.text
    assert response.json()["name"]
    assert response.headers["X-Road-Request-Hash"]
    # the token still works on the same HTTPS listener
    with https(pair, None) as client:
        client.headers["Authorization"] = f"Bearer {pair.node('nta')['token']}"
        assert ask(client, pair).status_code == 200

    listed = cli(pair, "local-cert", "list")
    assert f"{certificate_id}  billing  active" in listed

    # revoked: refused by the node (the handshake still succeeds: the registry decides)
    assert cli(pair, "local-cert", "revoke", certificate_id).startswith("revoked #")

    def refused_now() -> httpx.Response | None:
        with https(pair, billing) as client:
            got = ask(client, pair)
        return got if got.status_code == 401 else None

    denied = wait_for(refused_now, 30, "the revoked certificate refused")
    assert denied.json()["message"] == "the client certificate is not registered with this node"
    assert "revoked" in cli(pair, "local-cert", "list")


def test_bad_certificates_are_refused_by_the_cli(pair: Running, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    env = pair.fed.node_env(pair.fed.spec("nta"))
    with pytest.raises(RuntimeError, match="error: not a PEM certificate"):
        pair.fed.run(env, "node", "local-cert", "add", "x", str(garbage))
    twice = local_system(tmp_path, "twice")
    cli(pair, "local-cert", "add", "twice", str(twice[0]))
    with pytest.raises(RuntimeError, match="already registered as 'twice'"):
        pair.fed.run(env, "node", "local-cert", "add", "again", str(twice[0]))
    with pytest.raises(RuntimeError, match="a name of 1 to 200 characters"):
        pair.fed.run(env, "node", "local-cert", "add", " ", str(twice[0]))
    with pytest.raises(RuntimeError, match="no local-system certificate #9999"):
        pair.fed.run(env, "node", "local-cert", "revoke", "9999")


def test_certificates_are_managed_by_api_and_admin_page(pair: Running, tmp_path: Path) -> None:
    import re

    node = pair.node("nta")
    archive = local_system(tmp_path, "archive")
    pem = archive[0].read_text()
    with pair.local("nta") as api:
        # bad input: problem+json, nothing stored
        for body, status, words in (
            ({"name": "x", "certificate": "not a certificate"}, 422, "not a PEM certificate"),
            ({"name": " ", "certificate": pem}, 422, "a name of 1 to 200 characters"),
            ({"name": "x"}, 422, "certificate"),
        ):
            bad = api.post("/api/v1/mesh/local-certificates", json=body)
            assert bad.status_code == status, bad.text
            assert bad.headers["content-type"].startswith("application/problem+json")
            assert words in bad.text
        before = api.get("/api/v1/mesh/local-certificates").json()["certificates"]
        assert all(c["name"] != "archive" for c in before)
        created = api.post("/api/v1/mesh/local-certificates", json={"name": "archive",
                                                                   "certificate": pem})  # fmt: skip
        assert created.status_code == 201, created.text
        row = created.json()
        assert (row["name"], row["status"], row["revoked_at"]) == ("archive", "active", None)
        assert "CN=archive" in row["subject"] and len(row["fingerprint"]) == 64
        again = api.post("/api/v1/mesh/local-certificates", json={"name": "b", "certificate": pem})
        assert again.status_code == 409 and "already registered as 'archive'" in again.text
        assert api.post("/api/v1/mesh/local-certificates/9999/revoke").status_code == 404

    # registered by the API: the running node accepts it over HTTPS
    def answered() -> httpx.Response | None:
        try:
            with https(pair, archive) as client:
                return ask(client, pair)
        except HANDSHAKE_REFUSED:
            return None

    assert wait_for(answered, 30, "the API-registered certificate").status_code == 200

    # the admin page lists it, revokes it, and registers another through its form
    with httpx.Client(base_url=node["url"], auth=("ops", node["token"])) as http:
        page = http.get("/admin/mesh")
        assert page.status_code == 200 and node["local_tls_url"] in page.text
        assert f'<code title="{row["fingerprint"]}">' in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        token = csrf.group(1)
        revoke = f"/admin/mesh/local-certificates/{row['id']}/revoke"
        assert f'action="{revoke}"' in page.text
        assert http.post(revoke).status_code == 403  # no CSRF token
        assert http.post(revoke, data={"csrf_token": token}).status_code == 303
        page = http.get("/admin/mesh", params={"lang": "en"})
        assert f'action="{revoke}"' not in page.text
        assert re.search(r"<td>revoked \d{4}-\d\d-\d\d</td>", page.text)
        ledger = local_system(tmp_path, "ledger")
        form = {"name": "ledger", "certificate": "garbage", "csrf_token": token}
        bad = http.post("/admin/mesh/local-certificates", data=form)
        assert bad.status_code == 422 and "not a PEM certificate" in bad.text
        assert 'value="ledger"' in bad.text  # the form keeps what was typed
        form["certificate"] = ledger[0].read_text()
        added = http.post("/admin/mesh/local-certificates", data=form)
        assert added.status_code == 303
    with pair.local("nta") as api:
        listed = api.get("/api/v1/mesh/local-certificates").json()["certificates"]
    states = {c["name"]: c["status"] for c in listed}
    assert states["archive"] == "revoked" and states["ledger"] == "active"

    def refused_now() -> httpx.Response | None:
        with https(pair, archive) as client:
            got = ask(client, pair)
        return got if got.status_code == 401 else None

    wait_for(refused_now, 30, "the certificate revoked on the admin page refused")
