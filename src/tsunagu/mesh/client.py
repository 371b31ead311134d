"""Outgoing calls of a node: to other nodes over mutual TLS, and to the hub.

Both directions check the peer: the provider's TLS certificate must be a node of the trust list
and belong to the member called; the response must carry a valid signature by that certificate
over the response and the hash of our request. Redirects are never followed.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from cryptography import x509

from tsunagu.kernel import Settings
from tsunagu.trust.ca import MemberId
from tsunagu.trust.errors import TrustError
from tsunagu.trust.trustlist import TrustList, TrustListCache

from . import protocol
from .errors import MeshFault, consumer_fault
from .identity import NodeIdentity
from .transport import Fetched

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    provider: str  # the member id the TLS certificate proved
    digest: str = ""  # the response's message digest (trust.jws), for the message log
    response_hash: str = ""  # base64 SHA-512 of its canonical form, as the provider logs it

    def json(self) -> Any:
        return json.loads(self.body)


def node_url_of(trust: TrustList, member: MemberId) -> str:
    """The URL of a node of ``member`` in the trust list."""
    base = f"{member.instance}/{member.member_class}/{member.code}"
    entry = trust.member(base)
    for node in entry.get("nodes", []) if entry is not None else []:
        if node.get("url"):
            return str(node["url"]).rstrip("/")
    raise consumer_fault("UnknownMember", f"member {base} has no node in the trust list", 404)


def member_name(trust: TrustList, member_id: str) -> str:
    base = "/".join(member_id.split("/")[:3])
    entry = trust.member(base)
    return str(entry.get("name") or base) if entry is not None else base


def peer_der(response: httpx.Response) -> bytes | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    der = ssl_object.getpeercert(True) if ssl_object is not None else None
    return bytes(der) if der else None


def fetched_of(response: httpx.Response) -> Fetched:
    """An httpx answer (the worker's synchronous calls) as :class:`Fetched`."""
    return Fetched(
        response.status_code,
        {k.lower(): v for k, v in response.headers.items()},
        response.content,
        peer_der(response),
    )


def _check_peer(trust: TrustList, der: bytes) -> tuple[str, x509.Certificate]:
    cert = x509.load_der_x509_certificate(der)
    return trust.check_node(cert), cert


def check_reply(
    trust: TrustList,
    member: MemberId,
    response: Fetched | httpx.Response,
    method: str,
    target: str,
    sent_hash: str,
    settings: Settings,
    check_peer: Callable[[TrustList, bytes], tuple[str, x509.Certificate]] = _check_peer,
) -> Reply:
    """Verify who answered and that the answer is signed and bound to our request.

    ``check_peer`` is the node runtime's cached certificate check where there is one."""
    if isinstance(response, httpx.Response):
        response = fetched_of(response)
    der = response.peer_der
    if der is None:
        raise consumer_fault(
            "SslAuthenticationFailed", "the provider presented no certificate", 502
        )
    try:
        proven, cert = check_peer(trust, der)
    except TrustError as exc:
        raise consumer_fault(
            "SslAuthenticationFailed", f"provider certificate: {exc.detail}", 502
        ) from None
    base = f"{member.instance}/{member.member_class}/{member.code}"
    if "/".join(proven.split("/")[:3]) != base:
        raise consumer_fault(
            "SslAuthenticationFailed", f"the node that answered is {proven}, not {base}", 502
        )
    headers, body = response.headers, response.body
    if headers.get(protocol.XROAD_REQUEST_HASH) != sent_hash:
        raise consumer_fault("InvalidResponse", "the response is not for this request", 502)
    if headers.get(protocol.STATUS) != str(response.status):
        raise consumer_fault("InvalidResponse", "the response status is not the signed one", 502)
    try:
        hashes = protocol.hashes("RESPONSE", target, headers.items(), body)
    except MeshFault as exc:  # a line break in a header: it cannot have been signed
        raise consumer_fault("InvalidSignatureValue", exc.message, 502) from None
    try:
        protocol.check_signature(
            "RESPONSE",
            target,
            headers,
            body,
            cert,
            skew_seconds=settings.mesh_clock_skew,
            fault_prefix="Server.ClientProxy",
            digest=hashes.digest,
        )
    except MeshFault as exc:
        exc.status = 502
        raise
    return Reply(response.status, headers, body, proven, hashes.digest, hashes.request_hash)


def response_message_headers(
    status: int, request_hash: str, xroad_id: str, content_type: str
) -> dict[str, str]:
    out = {protocol.STATUS: str(status), protocol.XROAD_REQUEST_HASH: request_hash}
    if xroad_id:
        out[protocol.XROAD_ID] = xroad_id
    if content_type:
        out["content-type"] = content_type
    return out


class HubClient:
    """Signed calls from a node to the hub (plain HTTP(S); the signature authenticates)."""

    def __init__(
        self,
        settings: Settings,
        identity: NodeIdentity | None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base = settings.node_hub_url.rstrip("/")
        self.identity = identity
        self.http = httpx.Client(
            timeout=settings.mesh_timeout, follow_redirects=False, transport=transport
        )

    def close(self) -> None:
        self.http.close()

    def trust_list_token(self) -> str:
        response = self.http.get(self.base + "/trust/list")
        response.raise_for_status()
        return response.text

    def trust_cache(self, anchor: x509.Certificate, refresh_seconds: int = 60) -> TrustListCache:
        return TrustListCache(self.trust_list_token, anchor, refresh_seconds=refresh_seconds)

    def enroll(self, member_id: str, node_url: str, csr_pem: str) -> dict[str, Any]:
        response = self.http.post(
            self.base + "/mesh/hub/enrollments",
            json={"member_id": member_id, "node_url": node_url, "csr": csr_pem},
        )
        return self._json(response)

    def enrollment(self, enrollment_id: str) -> dict[str, Any]:
        return self._json(self.http.get(f"{self.base}/mesh/hub/enrollments/{quote(enrollment_id)}"))

    def call(
        self, method: str, path: str, data: dict[str, Any], message_id: str | None = None
    ) -> dict[str, Any]:
        """A signed JSON call; MeshFault carries the hub's X-Road-style error."""
        if self.identity is None:
            raise consumer_fault("NotEnrolled", "this node has no certificate yet", 503)
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = protocol.sign_headers(
            self.identity.signer,
            method,
            path,
            {"content-type": "application/json"},
            body,
            message_id=message_id,
        )
        try:
            response = self.http.request(method, self.base + path, content=body, headers=headers)
        except httpx.TransportError as exc:  # the hub down, refusing or not answering in time
            raise MeshFault(
                "Server.ClientProxy.HubError",
                f"the hub cannot be reached ({type(exc).__name__})",
                504 if isinstance(exc, httpx.TimeoutException) else 502,
            ) from None
        return self._json(response)

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400:
            if isinstance(data, dict) and "type" in data and "message" in data:
                raise MeshFault(str(data["type"]), str(data["message"]), response.status_code)
            detail = data.get("detail") if isinstance(data, dict) else None
            raise MeshFault(
                "Server.ClientProxy.HubError",
                f"the hub answered {response.status_code}: {detail or response.text[:200]}",
                502,
            )
        if not isinstance(data, dict):
            raise MeshFault("Server.ClientProxy.HubError", "the hub answered no JSON object", 502)
        return data


def evidence_of(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A consumer's signed request, as the provider shows it to the hub for a translation."""
    return {
        "method": method,
        "target": target,
        "headers": headers,
        "body": base64.b64encode(body).decode("ascii"),
    }
