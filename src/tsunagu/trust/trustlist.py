"""The trust list (X-Road's "global configuration"): a signed JSON document nodes cache.

Signed as a JWS compact serialization (RFC 7515) with ES256 (RFC 7518 §3.4); the signer's
certificate chain travels in ``x5c`` (RFC 7515 §4.1.6) and must lead to the pinned root (the
trust anchor) with the id-kp-documentSigning EKU (RFC 9336). Like X-Road's global configuration,
a list past its ``expires_at`` is refused, and a node that cannot refresh keeps using its cached
copy until then — a hub outage shorter than the validity stops nothing. Document fields are
described in docs/trust.md.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.errors import JoseError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.accounts import Organization
from tsunagu.kernel import utcnow

from .ca import DOCUMENT_SIGNING, check_chain
from .errors import CertificateRejected, TrustError, TrustListRejected
from .jws import jwk_of, read_protected_header, registry
from .models import IssuedCertificate
from .services import Hub, crl_der

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MEDIA_TYPE = "application/jose"
TYP = "tsunagu-trust-list+jwt"
CLOCK_SKEW = timedelta(minutes=5)
# The header carries a certificate chain (x5c) and the payload every node's certificate.
MAX_HEADER = 16_384
MAX_PAYLOAD = 64_000_000


def _b64der(cert: x509.Certificate) -> str:
    # x5c and our certificate fields use standard base64 of the DER (RFC 7515 §4.1.6).
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _load_b64der(value: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(base64.b64decode(value, validate=True))
    except ValueError:
        raise TrustListRejected("a certificate in the trust list cannot be read") from None


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value: object) -> datetime:
    if not isinstance(value, str):
        raise TrustListRejected("a trust-list time is missing")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TrustListRejected(f"{value!r} is not an ISO 8601 time") from None


@dataclass(frozen=True)
class ServiceEntry:
    """A service a member offers (the mesh supplies these; the trust list only publishes them)."""

    service_id: str  # {member id}/{service code}
    title: str = ""


def build_trust_list(
    session: Session,
    hub: Hub,
    *,
    base_url: str,
    validity_seconds: int,
    tsa_url: str = "",
    log_vkey_file: Path | None = None,
    services: Sequence[ServiceEntry] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """The unsigned trust-list document as of ``now``."""
    now = (now or utcnow()).replace(microsecond=0)
    rows = list(session.scalars(select(IssuedCertificate).order_by(IssuedCertificate.id)))
    names = {
        o.corporate_number: o
        for o in session.scalars(
            select(Organization).where(Organization.corporate_number.is_not(None))
        )
    }
    members: dict[str, dict[str, Any]] = {}
    for row in rows:
        if (
            row.kind != "node"
            or row.revoked_at is not None
            or row.not_after < now.replace(tzinfo=None)
        ):
            continue
        member_id = "/".join(row.member_id.split("/")[:3])
        code = member_id.split("/")[2]
        org = names.get(code)
        member = members.setdefault(member_id, {
            "id": member_id,
            "name": org.title if org else "",
            "name_en": org.title_en if org else "",
            "nodes": [],
        })  # fmt: skip
        cert = x509.load_pem_x509_certificate(row.certificate_pem.encode("ascii"))
        member["nodes"].append({
            "id": row.member_id,
            "url": row.node_url,
            "certificate": _b64der(cert),
            "serial": row.serial,
            "sha256": row.fingerprint,
            "not_after": _iso(row.not_after),
        })  # fmt: skip
    vkey = log_vkey_file.read_text(encoding="utf-8").strip() if log_vkey_file else None
    return {
        "version": FORMAT_VERSION,
        "instance": hub.instance,
        "issued_at": _iso(now),
        "expires_at": _iso(now + timedelta(seconds=validity_seconds)),
        "ca": {"root": _b64der(hub.ca.root), "issuing": [_b64der(hub.ca.issuing)]},
        "members": sorted(members.values(), key=lambda m: str(m["id"])),
        "services": [{"id": s.service_id, "title": s.title} for s in services],
        "tsa": {
            "url": tsa_url or f"{base_url.rstrip('/')}/tsa",
            "certificate": _b64der(hub.tsa.certificate),
            "policy": hub.tsa.policy,
        },
        # The transparency log's C2SP verifier key; null until the log is configured.
        "log": {"vkey": vkey, "checkpoint_url": f"{base_url.rstrip('/')}/log/checkpoint"},
        "revoked": [
            {"serial": r.serial, "revoked_at": _iso(r.revoked_at), "reason": r.revocation_reason}
            for r in rows
            if r.revoked_at is not None
        ],
        "crl": base64.b64encode(crl_der(session, hub, now)).decode("ascii"),
        "development": hub.dev_mode,
    }


def sign_trust_list(document: dict[str, Any], hub: Hub) -> str:
    """The compact JWS of ``document``, signed by the trust-list key with its chain in x5c."""
    header = {
        "alg": "ES256",
        "typ": TYP,
        "x5c": [_b64der(hub.list_certificate), *(_b64der(c) for c in hub.chain)],
    }
    payload = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return jws.serialize_compact(
        header,
        payload.encode("utf-8"),
        jwk_of(hub.list_key),
        registry=registry(["ES256"], max_header=MAX_HEADER, max_payload=MAX_PAYLOAD),
    )


@dataclass(frozen=True)
class TrustList:
    """A verified trust list."""

    document: dict[str, Any]
    issued_at: datetime
    expires_at: datetime
    token: str = field(repr=False)

    @cached_property
    def _members(self) -> dict[str, dict[str, Any]]:
        """The members by id (the first entry of an id), built once per verified list."""
        found: dict[str, dict[str, Any]] = {}
        for entry in self.document.get("members", []):
            if isinstance(entry, dict):
                found.setdefault(str(entry.get("id")), entry)
        return found

    def member(self, member_id: str) -> dict[str, Any] | None:
        """The entry of a member (``INSTANCE/CLASS/CODE``), or None. A lookup, not a scan:
        the consumer asks on every message, and a national list holds thousands of members."""
        return self._members.get(member_id)

    def node_certificates(self) -> list[x509.Certificate]:
        return [
            _load_b64der(node["certificate"])
            for member in self.document.get("members", [])
            for node in member.get("nodes", [])
        ]

    def revoked_serials(self) -> frozenset[int]:
        return frozenset(int(r["serial"], 16) for r in self.document.get("revoked", []))

    def check_node(self, cert: x509.Certificate, now: datetime | None = None) -> str:
        """The member id of a node certificate the list vouches for, else CertificateRejected."""
        now = now or utcnow()
        if now > self.expires_at:
            raise TrustListRejected(f"the trust list expired at {_iso(self.expires_at)}")
        issuing = [_load_b64der(c) for c in self.document["ca"]["issuing"]]
        root = _load_b64der(self.document["ca"]["root"])
        check_chain(cert, issuing, [root], now, self.revoked_serials())
        if cert not in self.node_certificates():
            raise CertificateRejected("the certificate is not a node of the trust list")
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(names[0].value)


def verify_trust_list(
    token: str, anchor: x509.Certificate, now: datetime | None = None
) -> TrustList:
    """Verify signature, chain to ``anchor``, EKU and validity; return the document."""
    now = now or utcnow()
    try:
        header = read_protected_header(token)
    except TrustError as exc:
        raise TrustListRejected(f"not a trust list: {exc.detail}") from None
    if header.get("alg") != "ES256" or set(header) - {"alg", "typ", "x5c"}:
        raise TrustListRejected('the trust list header must be {"alg": "ES256", "typ", "x5c"}')
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not all(isinstance(c, str) for c in chain):
        raise TrustListRejected("the trust list carries no x5c certificate chain")
    certs = [_load_b64der(c) for c in chain]
    try:
        check_chain(certs[0], certs[1:], [anchor], now, purpose=DOCUMENT_SIGNING)
    except CertificateRejected as exc:
        raise TrustListRejected(f"the trust-list signer is not trusted: {exc.detail}") from None
    public = certs[0].public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise TrustListRejected("the trust-list signer key is not an EC key")
    try:
        obj = jws.deserialize_compact(
            token,
            jwk_of(public),
            registry=registry(["ES256"], max_header=MAX_HEADER, max_payload=MAX_PAYLOAD),
        )
        document = json.loads(obj.payload)
    except (JoseError, ValueError, TypeError):
        raise TrustListRejected("the trust list signature does not verify") from None
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise TrustListRejected("unknown trust list format")
    issued, expires = _parse_iso(document.get("issued_at")), _parse_iso(document.get("expires_at"))
    if issued > now + CLOCK_SKEW:
        raise TrustListRejected(f"the trust list is issued in the future ({_iso(issued)})")
    if now > expires:
        raise TrustListRejected(f"the trust list expired at {_iso(expires)}")
    return TrustList(document, issued, expires, token)


class TrustListCache:
    """A node's copy of the trust list: fetch, verify against the anchor, cache, refuse expired.

    ``current()`` refreshes at most every ``refresh_seconds``; if the hub cannot be reached or
    serves something invalid, the cached list is used until it expires, then everything stops
    (the X-Road global configuration rule). A list older than the cached one is ignored, so a
    replayed old list cannot roll back revocations.
    """

    def __init__(
        self,
        fetch: Callable[[], str],
        anchor: x509.Certificate,
        *,
        refresh_seconds: int = 60,
        clock: Callable[[], datetime] = utcnow,
        on_accept: Callable[[TrustList], object] | None = None,
    ) -> None:
        self._fetch = fetch
        self.on_accept = on_accept
        self._anchor = anchor
        self._refresh = timedelta(seconds=refresh_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: TrustList | None = None
        self._checked: datetime | None = None
        self.last_error: str | None = None

    def current(self) -> TrustList:
        """A valid trust list, or TrustListRejected if none is available (expired or never got)."""
        now = self._clock()
        with self._lock:
            if self._checked is None or now - self._checked >= self._refresh:
                self._checked = now
                self._refresh_now(now)
            cached = self._cached
        if cached is None:
            raise TrustListRejected(f"no trust list could be obtained ({self.last_error})")
        if now > cached.expires_at:
            raise TrustListRejected(
                f"the cached trust list expired at {_iso(cached.expires_at)} and the hub "
                f"cannot be reached ({self.last_error})"
            )
        return cached

    def _refresh_now(self, now: datetime) -> None:
        try:
            fresh = verify_trust_list(self._fetch(), self._anchor, now)
        except TrustError as exc:
            self.last_error = exc.detail
            log.warning("trust list refresh failed: %s", exc.detail)
            return
        except Exception as exc:  # the hub being down must never crash a node
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("trust list fetch failed: %s", self.last_error)
            return
        if self._cached is not None and fresh.issued_at < self._cached.issued_at:
            self.last_error = "the hub served an older trust list than the cached one"
            return
        self._cached = fresh
        self.last_error = None
        if self.on_accept is not None:
            try:
                self.on_accept(fresh)
            except Exception:  # keeping certificates must never stop the node trusting the list
                log.exception("trust list: on_accept failed")
