"""The log over HTTP: C2SP tlog-tiles endpoints, proofs, bundles, cosignatures, the witness."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tsunagu.kernel import Settings
from tsunagu.ledger.formats import parse_checkpoint_text, parse_proof_bundle
from tsunagu.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from tsunagu.ledger.note import COSIGNATURE_V1, Signer, open_note, parse_vkey


@pytest.fixture
def log_client(client: TestClient, log_settings: Settings, filled: Session) -> TestClient:
    filled.commit()
    return client


def _b(value: str) -> bytes:
    return base64.b64decode(value)


def test_checkpoint_is_a_signed_note_verified_by_the_vkey(log_client: TestClient) -> None:
    vkey = log_client.get("/log/vkey")
    assert vkey.headers["content-type"] == "text/plain; charset=utf-8"
    verifier = parse_vkey(vkey.text)
    assert verifier.name == "tsunagu.example/log"
    response = log_client.get("/log/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    note, _ = open_note(response.text, [verifier])
    checkpoint = parse_checkpoint_text(note.text)
    assert (checkpoint.origin, checkpoint.size) == ("tsunagu.example/log", 1020)


def test_key_file_is_private(log_client: TestClient, log_settings: Settings) -> None:
    log_client.get("/log/vkey")
    path = log_settings.data_dir / "ledger" / "log.key"
    assert path.stat().st_mode & 0o777 == 0o600


def test_tiles_are_served_with_c2sp_paths(log_client: TestClient) -> None:
    full = log_client.get("/log/tile/0/000")
    assert full.status_code == 200 and len(full.content) == 8192
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.content[:32] == leaf_hash(b"entry 0")
    assert len(log_client.get("/log/tile/0/003.p/252").content) == 252 * 32
    assert len(log_client.get("/log/tile/1/000.p/3").content) == 96
    assert log_client.get("/log/tile/entries/000").content.startswith(b"\x00\x07entry 0")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("0/004", 404), ("0/003", 404), ("0/003.p/253", 404), ("1/000", 404), ("2/000.p/1", 404),
        ("entries/x001/000", 404), ("0/x999/x999/999", 404),
        ("0/1", 400), ("0/x000/003", 400), ("64/000", 400), ("00/000", 400), ("0/000.p/0", 400),
        ("0/000.p/256", 400), ("0/000.p/", 400), ("-1/000", 400), ("0/000/", 400), ("x/000", 400),
    ],
)  # fmt: skip
def test_bad_or_missing_tiles_are_problems(log_client: TestClient, path: str, status: int) -> None:
    response = log_client.get(f"/log/tile/{path}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_inclusion_and_consistency_proofs_as_json(log_client: TestClient) -> None:
    p = log_client.get("/api/v1/log/inclusion", params={"index": 300, "size": 1000}).json()
    verify_inclusion(300, 1000, _b(p["leaf_hash"]), [_b(h) for h in p["proof"]], _b(p["root_hash"]))
    c = log_client.get("/api/v1/log/consistency", params={"size1": 10, "size2": 1020}).json()
    verify_consistency(10, 1020, [_b(h) for h in c["proof"]], _b(c["root1"]), _b(c["root2"]))
    assert log_client.get("/api/v1/log/inclusion", params={"index": 1019}).json()["size"] == 1020


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("inclusion", {"index": 5, "size": 5}, 422), ("inclusion", {"index": 0, "size": 9999}, 422),
        ("inclusion", {"index": -1, "size": 5}, 422), ("inclusion", {"index": "x"}, 422),
        ("consistency", {"size1": 0, "size2": 5}, 422),
        ("consistency", {"size1": 6, "size2": 5}, 422),
        ("consistency", {"size1": 1, "size2": 2**70}, 422),
    ],
)  # fmt: skip
def test_impossible_proofs_are_problems(
    log_client: TestClient, path: str, params: dict[str, object], status: int
) -> None:
    response = log_client.get(f"/api/v1/log/{path}", params=params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_proof_bundle_is_a_c2sp_tlog_proof(log_client: TestClient) -> None:
    verifier = parse_vkey(log_client.get("/log/vkey").text)
    response = log_client.get("/api/v1/log/entries/1005/proof")
    assert response.status_code == 200
    bundle = parse_proof_bundle(response.text)
    assert response.text.startswith("c2sp.org/tlog-proof@v1\nextra ")
    note, _ = open_note(bundle.checkpoint, [verifier])
    cp = parse_checkpoint_text(note.text)
    assert bundle.extra is not None and bundle.extra.startswith(b"tsunagu/access-record/v1 ")
    verify_inclusion(bundle.index, cp.size, leaf_hash(bundle.extra), bundle.proof, cp.root)
    assert log_client.get("/api/v1/log/entries/5000/proof").status_code == 422
    assert log_client.get("/api/v1/log/entries/5000").status_code == 404


def _witness(name: str = "witness.example/w1") -> Signer:
    return Signer(name, Ed25519PrivateKey.generate(), COSIGNATURE_V1)


def test_witness_cosignatures_are_published_with_the_checkpoint(
    log_client: TestClient, log_settings: Settings
) -> None:
    w1 = _witness()
    app_identity = log_client.app.state  # type: ignore[attr-defined]
    log_settings.log_witnesses = w1.verifier.vkey
    app_identity.ledger_identity = None
    checkpoint = log_client.get("/log/checkpoint").text
    text = checkpoint[: checkpoint.rfind("\n\n") + 1]
    line = w1.cosign_line(text, 1_700_000_000)
    accepted = log_client.post("/log/cosignatures", content=checkpoint + line)
    assert accepted.status_code == 200 and accepted.json() == {"added": 1}
    served = log_client.get("/log/checkpoint").text
    assert served == checkpoint + line
    open_note(served, [w1.verifier])


def test_forged_or_unknown_cosignatures_are_refused(
    log_client: TestClient, log_settings: Settings
) -> None:
    w1, stranger = _witness(), _witness("witness.example/w2")
    log_settings.log_witnesses = w1.verifier.vkey
    log_client.app.state.ledger_identity = None  # type: ignore[attr-defined]
    checkpoint = log_client.get("/log/checkpoint").text
    text = checkpoint[: checkpoint.rfind("\n\n") + 1]
    forged = w1.cosign_line(text, 1_700_000_000).replace("\n", "")[:-6] + "AAAAA=\n"
    other_text = text.replace("1020", "1019")
    cases = [
        (checkpoint + forged, 403),  # known key, bad signature
        (checkpoint + stranger.cosign_line(text, 1), 403),  # only unknown witnesses
        (checkpoint + w1.cosign_line(other_text, 1), 403),  # signed another head
        (checkpoint.replace("1020", "1019") + w1.cosign_line(other_text, 1), 403),  # not ours
        ("garbage", 403),
    ]
    for body, status in cases:
        response = log_client.post("/log/cosignatures", content=body)
        assert response.status_code == status, body
        assert response.headers["content-type"] == "application/problem+json"
    assert log_client.get("/log/checkpoint").text == checkpoint
