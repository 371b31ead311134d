"""Time-stamp clients and token verification (RFC 3161), behind one Protocol.

``EmbeddedTimestamper`` asks this instance's TSA in-process; ``HttpTimestamper`` posts an
``application/timestamp-query`` to any RFC 3161 TSA over HTTP (RFC 3161 §3.4), so an external TSA
replaces the embedded one by setting ``TSUNAGU_TSA_URL``. Tokens are verified with
``rfc3161-client`` (signature, chain to the given roots, critical timeStamping EKU, imprint, nonce).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx
from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from .errors import TimestampFailed

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


class Timestamper(Protocol):
    """Anything that turns data into a verified RFC 3161 response (DER TimeStampResp)."""

    def timestamp(self, data: bytes) -> bytes: ...


def build_query(data: bytes) -> tuple[bytes, int | None]:
    """A DER TimeStampReq over SHA-256(data) asking for the TSA certificate, and its nonce."""
    request = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .cert_request(cert_request=True)
        .build()
    )
    return request.as_bytes(), request.nonce


def decode_response(der: bytes) -> TimeStampResponse:
    try:
        return decode_timestamp_response(der)
    except ValueError as exc:
        raise TimestampFailed(f"not an RFC 3161 response: {exc}") from None


@dataclass
class TokenVerifier:
    """Verifies responses against pinned roots (and optional intermediates / TSA certificate)."""

    roots: list[x509.Certificate]
    intermediates: tuple[x509.Certificate, ...] = ()
    tsa_certificate: x509.Certificate | None = None

    def verify(self, der: bytes, data: bytes | None = None, *, digest: bytes | None = None,
               nonce: int | None = None) -> TimeStampResponse:  # fmt: skip
        """Check ``der`` covers ``data`` (or its ``digest``); return the decoded response."""
        response = decode_response(der)
        builder = VerifierBuilder(roots=list(self.roots), intermediates=list(self.intermediates))
        if self.tsa_certificate is not None:
            builder = builder.tsa_certificate(self.tsa_certificate)
        if nonce is not None:
            builder = builder.nonce(nonce)
        verifier = builder.build()
        try:
            if data is not None:
                verifier.verify_message(response, data)
            elif digest is not None:
                verifier.verify(response, digest)
            else:
                raise ValueError("give data or digest")
        except (VerificationError, ValueError) as exc:
            raise TimestampFailed(f"time-stamp token does not verify: {exc}") from None
        return response


class EmbeddedTimestamper:
    """This instance's TSA, called in-process (no HTTP round trip)."""

    def __init__(self, answer: Callable[[bytes], bytes], verifier: TokenVerifier) -> None:
        self._answer = answer
        self._verifier = verifier

    def timestamp(self, data: bytes) -> bytes:
        query, nonce = build_query(data)
        der = self._answer(query)
        self._verifier.verify(der, data, nonce=nonce)
        return der


_shared: httpx.Client | None = None
_shared_lock = threading.Lock()


def _http() -> httpx.Client:
    """One client for every HTTP TSA call of the process (thread-safe, keeps the connection).
    A node seals a batch every few seconds; ``httpx.post`` built a client each time, and with
    it an SSL context loading the CA bundle: 20 to 40 ms of CPU a call on this project's
    2-core machine, even for a plain-HTTP TSA."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = httpx.Client(follow_redirects=False)
        return _shared


class HttpTimestamper:
    """Any RFC 3161 TSA reached over HTTP (RFC 3161 §3.4)."""

    def __init__(self, url: str, verifier: TokenVerifier, timeout: float = 10.0) -> None:
        self.url = url
        self._verifier = verifier
        self._timeout = timeout

    def timestamp(self, data: bytes) -> bytes:
        query, nonce = build_query(data)
        try:
            reply = _http().post(
                self.url, content=query, headers={"Content-Type": QUERY_TYPE},
                timeout=self._timeout,
            )  # fmt: skip
        except httpx.HTTPError as exc:
            raise TimestampFailed(f"TSA at {self.url} unreachable: {type(exc).__name__}") from None
        if reply.status_code != 200 or not reply.headers.get("content-type", "").startswith(
            REPLY_TYPE
        ):
            raise TimestampFailed(f"TSA at {self.url} answered {reply.status_code}")
        self._verifier.verify(reply.content, data, nonce=nonce)
        return reply.content


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
