"""The message protocol between nodes (and from nodes to the hub): headers, signatures, replays.

Every message carries ``Tsunagu-Message-Id`` (a UUID), ``Tsunagu-Timestamp`` (Unix seconds) and
``Tsunagu-Signature``: a detached JWS (tsunagu.trust.jws) over the canonical form of method,
target, the signed headers and the body hash. The signer's ``kid`` is the SHA-256 fingerprint of
its node certificate, which the receiver must already trust (the TLS peer or the trust list), so
the signature binds the message to the authenticated node. A message outside the time window or
with a message id seen before is a replay. Responses are signed the same way with the method
``RESPONSE`` and carry ``Tsunagu-Status`` and ``X-Road-Request-Hash`` (base64 SHA-512 of the
request's canonical form, as X-Road does), so a response cannot be moved to another request.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tsunagu.trust import ca
from tsunagu.trust import jws as trust_jws
from tsunagu.trust.errors import SignatureInvalid

from .errors import MeshFault

SIGNATURE = "tsunagu-signature"
MESSAGE_ID = "tsunagu-message-id"
TIMESTAMP = "tsunagu-timestamp"
PURPOSE = "tsunagu-purpose"
LEGAL_BASIS = "tsunagu-legal-basis"
PERSON = "tsunagu-person"
STATUS = "tsunagu-status"
EVENT_ID = "tsunagu-event-id"
XROAD_CLIENT = "x-road-client"
XROAD_SERVICE = "x-road-service"
XROAD_ID = "x-road-id"
XROAD_USER = "x-road-userid"
XROAD_ISSUE = "x-road-issue"
XROAD_REQUEST_HASH = "x-road-request-hash"

# RFC 9110 §7.6.1 hop-by-hop fields, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# What the consumer node forwards from the local system's request (the rest stays local).
FORWARDED = (
    "content-type",
    XROAD_CLIENT,
    XROAD_ID,
    XROAD_USER,
    XROAD_ISSUE,
    PURPOSE,
    LEGAL_BASIS,
    PERSON,
)


def new_message_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Hashes:
    """The two hashes of one message's canonical form (computed once per message)."""

    request_hash: str  # base64 SHA-512: a request's X-Road-Request-Hash; a response's hash
    digest: str  # the JWS payload its signature covers: base64url SHA-256 (trust.jws)


def hashes(method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes) -> Hashes:
    """Both hashes of a message; MeshFault (400) if it has no canonical form."""
    try:
        canonical = trust_jws.canonical_form(trust_jws.Message.of(method, target, headers, body))
    except SignatureInvalid as exc:  # a line break in a header, a target that is not a path
        raise MeshFault("Client.InvalidRequest", exc.detail, 400) from None
    return Hashes(
        base64.b64encode(hashlib.sha512(canonical).digest()).decode("ascii"),
        trust_jws.b64url(hashlib.sha256(canonical).digest()),
    )


def sign_headers(
    signer: trust_jws.MessageSigner,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    *,
    message_id: str | None = None,
    now: float | None = None,
) -> dict[str, str]:
    """``headers`` plus message id, timestamp and the detached signature over all of it
    (:func:`sign_message` without the hashes)."""
    return sign_message(signer, method, target, headers, body, message_id=message_id, now=now)[0]


def sign_message(
    signer: trust_jws.MessageSigner,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    *,
    message_id: str | None = None,
    now: float | None = None,
) -> tuple[dict[str, str], Hashes]:
    """``headers`` plus message id, timestamp and the detached signature over all of it, and
    the message's hashes (the signature header is not signed: they are the message's as sent)."""
    out = {k.lower(): v for k, v in headers.items()}
    out.setdefault(MESSAGE_ID, message_id or new_message_id())
    out[TIMESTAMP] = str(int(now if now is not None else time.time()))
    found = hashes(method, target, out.items(), body)
    out[SIGNATURE] = signer.sign_digest(found.digest)
    return out, found


@lru_cache(maxsize=1024)
def _key_of(certificate: x509.Certificate) -> tuple[object, str]:
    """A certificate's public key and fingerprint (the same few peers sign every message)."""
    return certificate.public_key(), ca.fingerprint(certificate)


def check_signature(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    certificate: x509.Certificate,
    *,
    skew_seconds: int,
    fault_prefix: str,
    now: float | None = None,
    digest: str | None = None,
) -> str:
    """Verify signature, signer and time window; return the message id or raise MeshFault.

    ``certificate`` is the sender's, already trusted (TLS peer in the trust list, or a node
    certificate the hub issued); the signature's ``kid`` must be its fingerprint. ``digest`` is
    the message's :attr:`Hashes.digest` when the caller has it already.
    """
    public_key, fingerprint = _key_of(certificate)
    if not isinstance(public_key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise MeshFault(f"{fault_prefix}.IncorrectCertificate", "unsupported key type", 401)
    token = headers.get(SIGNATURE, "")
    message_id = headers.get(MESSAGE_ID, "")
    stamp = headers.get(TIMESTAMP, "")
    if not token or not message_id or not stamp:
        raise MeshFault(
            f"{fault_prefix}.MissingSignature",
            "the message has no Tsunagu-Signature, -Message-Id or -Timestamp",
            401,
        )
    if len(message_id) > 100:
        raise MeshFault(f"{fault_prefix}.InvalidMessageId", "the message id is too long", 400)
    try:
        sent = int(stamp)
    except ValueError:
        raise MeshFault(
            f"{fault_prefix}.InvalidTimestamp", "Tsunagu-Timestamp is not an integer", 400
        ) from None
    current = now if now is not None else time.time()
    if abs(current - sent) > skew_seconds:
        raise MeshFault(
            f"{fault_prefix}.MessageExpired",
            f"the message is outside the {skew_seconds} s time window (a replay or a wrong clock)",
            401,
        )
    try:
        header = trust_jws.read_protected_header(token)
        if header.get("kid") != fingerprint:
            raise SignatureInvalid("the signature's kid is not the sender's certificate")
        if digest is None:
            digest = trust_jws.message_digest(
                trust_jws.Message.of(method, target, headers.items(), body)
            )
        trust_jws.verify_digest(token, digest, public_key)
    except SignatureInvalid as exc:
        raise MeshFault(f"{fault_prefix}.InvalidSignatureValue", exc.detail, 401) from None
    return message_id


def forwardable(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The local request's headers that travel to the provider (never hop-by-hop ones).

    Their values must be ASCII: a byte beyond it (read as Latin-1) is sent on as UTF-8, so
    the provider would check the signature over other bytes than were signed and refuse the
    message — a ``Client.InvalidRequest`` here rather than a misleading 502 afterwards.
    """
    wanted = set(FORWARDED)
    out = {k.lower(): v for k, v in headers if k.lower() in wanted and k.lower() not in HOP_BY_HOP}
    for name, value in out.items():
        if not value.isascii():
            raise MeshFault("Client.InvalidRequest", f"header {name} is not ASCII", 400)
    return out


def service_path(raw_path: str, prefix: str) -> tuple[list[str], str]:
    """A message's path as sent (``raw_path``, percent-encoded), after ``prefix`` (``/r1/``,
    ``/mesh/v1/``): the segments of the service id, decoded, and the rest of the path as sent
    (``""`` or ``"/..."``).

    The rest stays encoded: it is what the consumer signed and what the backend must get —
    decoded, ``%20`` put a space in the backend's request line, ``%3F`` began its query and
    ``%2F`` split a segment. Fewer than five segments, or one that decodes to a ``/``, is no
    service id (``Client.InvalidServiceIdentifier``).
    """
    segments = raw_path[len(prefix) :].split("/", 5) if raw_path.startswith(prefix) else []
    try:
        ids = [unquote(segment, errors="strict") for segment in segments[:5]]
    except UnicodeDecodeError:  # not UTF-8: no service is named so
        ids = []
    if len(ids) < 5 or any("/" in segment for segment in ids):
        raise MeshFault(
            "Client.InvalidServiceIdentifier",
            f"the path is {prefix}{{INSTANCE}}/{{CLASS}}/{{MEMBER}}/{{SUBSYSTEM}}/{{SERVICE}}",
            400,
        )
    return ids, ("/" + segments[5] if len(segments) > 5 else "")
