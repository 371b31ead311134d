"""Detached JWS over a canonical hash of an HTTP message.

Specs: RFC 7515 (JWS, compact serialization with detached content, Appendix F), RFC 7797
(unencoded payload: ``"b64": false`` listed in ``crit``), RFC 8037 (Ed25519 as ``EdDSA``),
RFC 7518 §3.4 (ES256). The canonical form is defined in docs/trust.md ("Message signatures"):

    tsunagu-msg-1\\n
    METHOD\\n
    target\\n                       (path and query exactly as sent)
    name:value\\n ...              (each signed header present, lower-case name, sorted)
    body-sha256:HEX\\n

The JWS payload is ``BASE64URL(SHA-256(canonical form))`` — URL-safe characters only, as RFC 7797
§5.2 asks — and is never sent: the receiver recomputes it from the message it got. Verification
pins ``algorithms`` to the one matching the key (EdDSA for Ed25519, ES256 for P-256); ``none``,
HMAC and unknown ``crit`` parameters are refused before any cryptography runs.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, OKPKey

from .errors import SignatureInvalid
from .keys import PublicKey, SigningKey

CANONICAL_VERSION = "tsunagu-msg-1"
MAX_HEADER = 512  # characters of the encoded protected header (as the joserfc registry)
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
MESSAGE_ALGORITHMS = ("EdDSA", "ES256")
# The X-Road REST message protocol headers plus tsunagu's purpose/legal-basis/case headers.
SIGNED_HEADERS = frozenset(
    {
        "content-type",
        "x-road-client",
        "x-road-service",
        "x-road-id",
        "x-road-userid",
        "x-road-issue",
        "x-road-request-hash",
        "x-road-represented-party",
        "x-tsunagu-purpose",
        "x-tsunagu-legal-basis",
        "x-tsunagu-case-id",
        "x-tsunagu-message-id",
        "x-tsunagu-timestamp",
        # the mesh protocol's own headers (docs/mesh.md)
        "tsunagu-purpose",
        "tsunagu-legal-basis",
        "tsunagu-message-id",
        "tsunagu-timestamp",
        "tsunagu-person",
        "tsunagu-status",
        "tsunagu-event-id",
    }
)


# RFC 9864 deprecates the polymorphic "EdDSA" name because it does not fix the curve; we fix it
# by key type (algorithm_for), and RFC 8037 peers and test vectors still use it — so keep the
# algorithm without joserfc's per-call SecurityWarning.
_EDDSA = copy.copy(jws.JWSRegistry.algorithms["EdDSA"])
_EDDSA.security_warning = None


class _Registry(jws.JWSRegistry):
    algorithms = {**jws.JWSRegistry.algorithms, "EdDSA": _EDDSA}  # noqa: RUF012 -- joserfc's shape


def registry(
    algorithms: list[str], *, max_header: int = 512, max_payload: int = 128_000
) -> jws.JWSRegistry:
    """A joserfc registry allowing exactly ``algorithms`` (and the given sizes)."""
    pinned = _Registry(algorithms=algorithms)
    pinned.max_header_length = max_header
    pinned.max_payload_length = max_payload
    return pinned


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Message:
    """What a signature covers: method, request target, headers and body."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    @classmethod
    def of(
        cls, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes = b""
    ) -> Message:
        return cls(method, target, tuple(headers), body)


def canonical_form(message: Message) -> bytes:
    """The canonical bytes of ``message`` (see the module docstring)."""
    method = message.method.upper()
    if not method.isascii() or not method.isalpha():
        raise SignatureInvalid(f"method {message.method!r} is not a token")
    if not message.target.startswith("/") or any(c in message.target for c in "\r\n "):
        raise SignatureInvalid("the request target must be an origin-form path")
    values: dict[str, list[str]] = {}
    for name, value in message.headers:
        lower = name.lower()
        if lower not in SIGNED_HEADERS:
            continue
        if "\r" in value or "\n" in value:
            raise SignatureInvalid(f"header {name} contains a line break")
        values.setdefault(lower, []).append(value.strip(" \t"))
    lines = [CANONICAL_VERSION, method, message.target]
    # Repeated headers join with ", " in the order received (RFC 9110 §5.3).
    lines += [f"{name}:{', '.join(values[name])}" for name in sorted(values)]
    lines.append("body-sha256:" + hashlib.sha256(message.body).hexdigest())
    return ("\n".join(lines) + "\n").encode("utf-8")


def message_digest(message: Message) -> str:
    """The JWS payload: BASE64URL(SHA-256(canonical form))."""
    return b64url(hashlib.sha256(canonical_form(message)).digest())


def algorithm_for(key: SigningKey | PublicKey) -> str:
    """The one JWS algorithm a key may be used with."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise SignatureInvalid(f"no message algorithm for curve {key.curve.name} (P-256 or Ed25519)")


def jwk_of(key: SigningKey | PublicKey) -> Key:
    """A joserfc key object for a ``cryptography`` key."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return OKPKey.import_key(key)
    return ECKey.import_key(key)


class MessageSigner:
    """Signs messages with one private key; ``kid`` names the key's certificate."""

    def __init__(self, key: SigningKey, kid: str) -> None:
        self.key = key
        self.kid = kid
        self.algorithm = algorithm_for(key)
        header = {"alg": self.algorithm, "kid": self.kid, "b64": False, "crit": ["b64"]}
        # Serialized as joserfc does (compact JSON, ASCII), once: it never changes.
        self._head = b64url(json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode())

    def sign(self, message: Message) -> str:
        """A detached compact JWS: ``BASE64URL(header)..BASE64URL(signature)``.

        Signed here rather than through joserfc's ``serialize_compact``, which spent more CPU
        than the signature itself on every message (header checks, key wrapping, the
        serialization of a header that never changes): RFC 7797 §3 signing input
        ``BASE64URL(header) "." payload``; EdDSA (RFC 8037 §3.1) or ES256 as ``R || S``, each
        32 bytes (RFC 7518 §3.4). :func:`verify_digest` checks them the same way, and the tests
        check both against joserfc.
        """
        return self.sign_digest(message_digest(message))

    def sign_digest(self, digest: str) -> str:
        """:meth:`sign` for a message whose :func:`message_digest` the caller has already."""
        signing_input = f"{self._head}.{digest}".encode("ascii")
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            signature = self.key.sign(signing_input)
        else:
            der = self.key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{self._head}..{b64url(signature)}"


def read_protected_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, decoded strictly (no signature check)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureInvalid("a compact JWS has three dot-separated parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SignatureInvalid("the JWS header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise SignatureInvalid("the JWS header is not a JSON object")
    return header


def verify_message(token: str, message: Message, public_key: PublicKey) -> dict[str, Any]:
    """Check a detached message signature; return its protected header or raise SignatureInvalid."""
    return verify_digest(token, message_digest(message), public_key)


def verify_digest(token: str, digest: str, public_key: PublicKey) -> dict[str, Any]:
    """Check a detached message signature over a stored payload (``message_digest``) — offline,
    without the message itself (the message-log verifier).

    Verified here with ``cryptography`` rather than through joserfc's ``deserialize_compact``,
    which cost twice the signature check itself on every message (key wrapping and export,
    registry checks of a header that is checked here anyway); the tests verify the same tokens
    both ways, good and tampered. The steps are RFC 7515 §5.2 for the one shape this protocol
    allows: a protected header with ``alg`` pinned to the key's type, ``"b64": false`` listed
    in ``crit`` (RFC 7797), a detached (empty) payload part, and a signature in canonical
    base64url of exactly 64 bytes (Ed25519, or ES256's ``R || S``, RFC 7518 §3.4).
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureInvalid("a compact JWS has three dot-separated parts")
    head, middle, encoded = parts
    if len(head) > MAX_HEADER:
        raise SignatureInvalid("the JWS header is too long")
    header = read_protected_header(token)
    expected = algorithm_for(public_key)
    alg = header.get("alg")
    if alg not in MESSAGE_ALGORITHMS:
        raise SignatureInvalid(f"algorithm {alg!r} is not accepted (EdDSA or ES256 only)")
    if alg != expected:
        raise SignatureInvalid(f"algorithm {alg!r} does not match the signer's key ({expected})")
    if header.get("b64") is not False or header.get("crit") != ["b64"]:
        # RFC 7515 §4.1.11: a crit parameter we do not understand makes the JWS invalid.
        raise SignatureInvalid('the header must carry "b64": false and "crit": ["b64"] only')
    if "kid" in header and not isinstance(header["kid"], str):
        raise SignatureInvalid("the JWS header's kid is not a string")
    if middle:
        raise SignatureInvalid("the payload must be detached (empty middle part)")
    if not _B64URL.fullmatch(head) or not _B64URL.fullmatch(encoded):
        raise SignatureInvalid("signature is malformed")
    signature = b64url_decode(encoded)
    if len(signature) != 64 or b64url(signature) != encoded:  # one encoding only
        raise SignatureInvalid("signature is malformed")
    signing_input = f"{head}.{digest}".encode()
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, signing_input)
        else:
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            public_key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureInvalid("signature does not verify (bad_signature)") from None
    return header


def verify_compact(
    token: str, key: Key, algorithms: list[str], payload: bytes | str | None = None
) -> bytes:
    """Verify any compact JWS with explicit ``algorithms``; return the payload (cookbook tests)."""
    try:
        obj = jws.deserialize_compact(token, key, registry=registry(algorithms), payload=payload)
        return obj.payload
    except JoseError as exc:
        raise SignatureInvalid(f"signature does not verify ({exc.error})") from None
    except (ValueError, TypeError):
        raise SignatureInvalid("signature is malformed") from None
