"""Detached message signatures (RFC 7515 + RFC 7797) and the RFC 7520 / RFC 8037 vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from tests.conftest import SHARED
from tsunagu.trust import Message, MessageSigner, SignatureInvalid, canonical_form, verify_message
from tsunagu.trust.jws import b64url, jwk_of, message_digest, registry, verify_compact
from tsunagu.trust.keys import generate_key

COOKBOOK = SHARED / "jose" / "ietf-jose-cookbook"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _key(jwk: dict[str, Any]) -> Any:
    return {"OKP": OKPKey, "EC": ECKey, "RSA": RSAKey, "oct": OctKey}[jwk["kty"]].import_key(jwk)


MESSAGE = Message.of(
    "POST",
    "/r1/JP/GOV/8000012050001/node1/residents?limit=10",
    [
        ("X-Road-Client", "JP/MUN/3000020131016/app"),
        ("X-Road-Issue", "CASE-2026-0001"),
        ("X-Tsunagu-Purpose", "転入届の確認"),
        ("Accept", "application/json"),  # not signed
        ("Content-Type", "application/json"),
    ],
    b'{"pseudonym":"abc"}',
)


def test_canonical_form_is_exactly_as_documented() -> None:
    body = hashlib.sha256(b'{"pseudonym":"abc"}').hexdigest()
    assert (
        canonical_form(MESSAGE)
        == (
            "tsunagu-msg-1\n"
            "POST\n"
            "/r1/JP/GOV/8000012050001/node1/residents?limit=10\n"
            "content-type:application/json\n"
            "x-road-client:JP/MUN/3000020131016/app\n"
            "x-road-issue:CASE-2026-0001\n"
            "x-tsunagu-purpose:転入届の確認\n"
            f"body-sha256:{body}\n"
        ).encode()
    )


@pytest.mark.parametrize("kind", ["Ed25519", "P-256"])
def test_signs_and_verifies_detached(kind: str) -> None:
    key = generate_key(kind)
    token = MessageSigner(key, "node1").sign(MESSAGE)
    _head, middle, _sig = token.split(".")
    assert middle == ""
    header = verify_message(token, MESSAGE, key.public_key())
    assert header == {
        "alg": "EdDSA" if kind == "Ed25519" else "ES256",
        "kid": "node1",
        "b64": False,
        "crit": ["b64"],
    }


@pytest.mark.parametrize("kind", ["Ed25519", "P-256"])
def test_the_signer_makes_the_tokens_joserfc_makes(kind: str) -> None:
    """MessageSigner signs without joserfc (speed): the same token (Ed25519 is deterministic),
    and an ES256 signature joserfc verifies, and none for another message."""
    from joserfc import jws

    key = generate_key(kind)
    signer = MessageSigner(key, "node1")
    token = signer.sign(MESSAGE)
    payload = message_digest(MESSAGE)
    header = {"alg": signer.algorithm, "kid": "node1", "b64": False, "crit": ["b64"]}
    theirs = jws.serialize_compact(
        header, payload, jwk_of(key), registry=registry([signer.algorithm])
    )
    head, _payload, signature = theirs.split(".")
    if kind == "Ed25519":
        assert token == f"{head}..{signature}"
    assert token.split(".")[0] == head
    jws.deserialize_compact(
        token, jwk_of(key.public_key()), registry=registry([signer.algorithm]), payload=payload
    )
    other = Message(**{**MESSAGE.__dict__, "body": b"{}"})
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_message(token, other, key.public_key())


@pytest.mark.parametrize(
    "change",
    [
        {"method": "PUT"},
        {"target": "/r1/JP/GOV/8000012050001/node1/residents?limit=11"},
        {"body": b'{"pseudonym":"abd"}'},
        {"headers": (("X-Road-Client", "JP/MUN/3000020131016/other"),)},
    ],
)
def test_rejects_tampered_message(change: dict[str, Any]) -> None:
    key = generate_key("Ed25519")
    token = MessageSigner(key, "n").sign(MESSAGE)
    tampered = Message(**{**MESSAGE.__dict__, **change})
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_message(token, tampered, key.public_key())


def _forge(header: dict[str, Any], payload: str = "", signature: bytes = b"") -> str:
    return f"{b64url(json.dumps(header).encode())}.{payload}.{b64url(signature)}"


def test_rejects_alg_none() -> None:
    key = generate_key("Ed25519")
    token = _forge({"alg": "none", "b64": False, "crit": ["b64"]})
    with pytest.raises(SignatureInvalid, match="not accepted"):
        verify_message(token, MESSAGE, key.public_key())


@pytest.mark.parametrize("kind", ["Ed25519", "P-256"])
def test_rejects_hs256_keyed_with_the_public_key(kind: str) -> None:
    from cryptography.hazmat.primitives import serialization

    key = generate_key(kind)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "b64": False, "crit": ["b64"]}
    head = b64url(json.dumps(header).encode())
    from tsunagu.trust.jws import message_digest

    mac = hmac.new(public, f"{head}.{message_digest(MESSAGE)}".encode(), "sha256").digest()
    with pytest.raises(SignatureInvalid, match="not accepted"):
        verify_message(f"{head}..{b64url(mac)}", MESSAGE, key.public_key())


def test_rejects_algorithm_that_does_not_match_the_key() -> None:
    ed, p256 = generate_key("Ed25519"), generate_key("P-256")
    token = MessageSigner(p256, "n").sign(MESSAGE)
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_message(token, MESSAGE, ed.public_key())


def test_rejects_unknown_crit_and_missing_b64() -> None:
    key = generate_key("P-256")
    for header in (
        {"alg": "ES256", "b64": False, "crit": ["b64", "exp"], "exp": 1},
        {"alg": "ES256", "b64": False},
        {"alg": "ES256"},
    ):
        with pytest.raises(SignatureInvalid, match="crit"):
            verify_message(_forge(header, "", b"x" * 64), MESSAGE, key.public_key())


def test_rejects_attached_payload_and_garbage() -> None:
    key = generate_key("P-256")
    token = MessageSigner(key, "n").sign(MESSAGE)
    head, _, sig = token.split(".")
    with pytest.raises(SignatureInvalid, match="detached"):
        verify_message(f"{head}.abc.{sig}", MESSAGE, key.public_key())
    for junk in ("", "a.b", "!!!..x", "e30..AAAA"):
        with pytest.raises(SignatureInvalid):
            verify_message(junk, MESSAGE, key.public_key())


@pytest.mark.parametrize("kind", ["Ed25519", "P-256"])
def test_verifies_exactly_what_joserfc_verifies(kind: str) -> None:
    """verify_message checks signatures with ``cryptography`` (speed): joserfc's own tokens
    verify, and every token one of them refuses, the other refuses too."""
    from joserfc import jws
    from joserfc.errors import JoseError

    key = generate_key(kind)
    algorithm = "EdDSA" if kind == "Ed25519" else "ES256"
    payload = message_digest(MESSAGE)
    header = {"alg": algorithm, "kid": "node1", "b64": False, "crit": ["b64"]}
    good = jws.serialize_compact(header, payload, jwk_of(key), registry=registry([algorithm]))
    head, _, sig = good.split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    flipped = [bytes([raw[0] ^ 1]) + raw[1:], raw[:-1] + bytes([raw[-1] ^ 0x80])]
    tokens = [f"{head}..{sig}"] + [f"{head}..{b64url(f)}" for f in flipped]
    tokens += [f"{head}..{b64url(raw[:63])}", f"{head}..{b64url(raw + b'x')}"]
    for token in tokens:
        try:
            jws.deserialize_compact(
                token, jwk_of(key.public_key()), registry=registry([algorithm]), payload=payload
            )
            theirs = True
        except (JoseError, ValueError):
            theirs = False
        try:
            verify_message(token, MESSAGE, key.public_key())
            ours = True
        except SignatureInvalid:
            ours = False
        assert ours == theirs, token
    assert [t for t in tokens if _verifies(t, key)] == tokens[:1]
    # One encoding only: padding, a character outside base64url, non-zero trailing bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 64 bytes end in 4 spare bits in base64url: flipping the last character's lowest bit
    # changes only those, so it decodes to the same bytes.
    respelled = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 1]
    assert base64.urlsafe_b64decode(respelled + "==") == raw
    for token in (f"{head}..{sig}=", f"{head}..{sig[:-1]}+", f"{head}.. {sig}"):
        with pytest.raises(SignatureInvalid):
            verify_message(token, MESSAGE, key.public_key())
    with pytest.raises(SignatureInvalid, match="malformed"):
        verify_message(f"{head}..{respelled}", MESSAGE, key.public_key())


def _verifies(token: str, key: Any) -> bool:
    try:
        verify_message(token, MESSAGE, key.public_key())
        return True
    except SignatureInvalid:
        return False


# RFC 8037 §A.4 / cookbook curve25519/jws.json: Ed25519 is deterministic, so reproduce it.
def test_rfc8037_ed25519_example_is_reproduced() -> None:
    vector = _load(COOKBOOK / "curve25519" / "jws.json")
    from joserfc import jws

    key = _key(vector["input"]["key"])
    token = jws.serialize_compact(
        vector["signing"]["protected"], vector["input"]["payload"], key,
        registry=registry(["EdDSA"]),
    )  # fmt: skip
    assert token == vector["output"]["compact"]
    public = OKPKey.import_key({k: v for k, v in vector["input"]["key"].items() if k != "d"})
    assert verify_compact(token, public, ["EdDSA"]) == vector["input"]["payload"].encode()


# RFC 7520 §4: every signature example verifies with its own algorithm pinned (ECDSA, RSA-PSS
# are randomized: verify only); HMAC and RSA v1.5 are deterministic and reproduced too.
@pytest.mark.parametrize(
    "name",
    ["4_1.rsa_v15_signature", "4_2.rsa-pss_signature", "4_3.ecdsa_signature",
     "4_4.hmac-sha2_integrity_protection"],
)  # fmt: skip
def test_rfc7520_signature_examples_verify(name: str) -> None:
    vector = _load(COOKBOOK / "jws" / f"{name}.json")
    alg = vector["input"]["alg"]
    key = _key(vector["input"]["key"])
    payload = verify_compact(vector["output"]["compact"], key, [alg])
    assert payload == vector["input"]["payload"].encode()
    tampered = vector["output"]["compact"][:-4] + (
        "AAAA" if not vector["output"]["compact"].endswith("AAAA") else "BBBB"
    )
    with pytest.raises(SignatureInvalid):
        verify_compact(tampered, key, [alg])
    with pytest.raises(SignatureInvalid):  # the same token with another algorithm pinned
        verify_compact(vector["output"]["compact"], key, ["ES256" if alg != "ES256" else "EdDSA"])


def test_rfc7520_detached_content_example() -> None:
    vector = _load(COOKBOOK / "jws" / "4_5.signature_with_detached_content.json")
    key = _key(vector["input"]["key"])
    detached = vector["output"]["compact"]
    assert detached.split(".")[1] == ""
    payload = vector["input"]["payload"]
    assert verify_compact(detached, key, ["HS256"], payload=payload) == payload.encode()
    with pytest.raises(SignatureInvalid):
        verify_compact(detached, key, ["HS256"], payload=payload + ".")


def test_rfc7797_unencoded_payload_example() -> None:
    vector = _load(COOKBOOK / "rfc7797" / "hmac-sha2_b64_false.json")
    key = _key(vector["input"]["key"])
    from joserfc import jws

    token = jws.serialize_compact(
        vector["signing"]["protected"], vector["input"]["payload"], key,
        registry=registry(["HS256"]),
    )  # fmt: skip
    # joserfc detaches a payload with characters outside the URL-safe set (RFC 7797 §5.2).
    head, _, sig = vector["output"]["compact"].split(".")
    assert token == f"{head}..{sig}"
    assert verify_compact(token, key, ["HS256"], payload=vector["input"]["payload"]) == (
        vector["input"]["payload"].encode()
    )


def test_rfc7797_example_without_crit_is_refused() -> None:
    # The cookbook's 4.2 "JSON only" vector signs {"alg":"HS256","b64":false} without "crit";
    # RFC 7797 §6 makes "crit": ["b64"] mandatory, so a strict verifier must refuse it — even
    # though the MAC itself is right.
    vector = _load(COOKBOOK / "rfc7797" / "4.2.hmac-sha2_b64_false.json")
    flat = vector["output"]["json_flat"]
    secret = base64.urlsafe_b64decode(vector["input"]["key"]["k"] + "==")
    mac = hmac.new(secret, f"{flat['protected']}.{flat['payload']}".encode(), "sha256").digest()
    assert b64url(mac) == flat["signature"]
    key = _key(vector["input"]["key"])
    token = f"{flat['protected']}..{flat['signature']}"
    with pytest.raises(SignatureInvalid):
        verify_compact(token, key, ["HS256"], payload=flat["payload"])


def test_message_key_round_trips_through_jwk() -> None:
    key = generate_key("Ed25519")
    assert jwk_of(key.public_key()).as_dict()["crv"] == "Ed25519"
