"""The hub's mesh services: enrollment, the service registry, pseudonyms and access records.

Nodes call the hub over plain HTTP(S) with signed messages (protocol.py): the hub finds the
signer's certificate among the ones its CA issued (by fingerprint), refuses revoked or expired
ones, and takes the member id from the certificate — never from the request body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tsunagu.catalog import DataService
from tsunagu.kernel import Conflict, NotFound, Settings, ValidationProblem, naive_utcnow
from tsunagu.trust import EmbeddedTimestamper, TokenVerifier
from tsunagu.trust.ca import MemberId, load_csr
from tsunagu.trust.models import IssuedCertificate
from tsunagu.trust.services import (
    Hub,
    answer_timestamp_query,
    issue_node_certificate,
    registered_member,
)
from tsunagu.trust.trustlist import ServiceEntry

from . import messagelog, protocol
from .errors import MeshFault
from .messagelog import finish_record, insert_record
from .models import Enrollment, PseudonymLink, RegisteredService

LINK_LENGTH = 64  # hex of HMAC-SHA256


# -- enrollment ---------------------------------------------------------------------------------


def submit_enrollment(
    session: Session, hub: Hub, member_id: str, node_url: str, csr_pem: str
) -> Enrollment:
    """Record a node's certificate request; an admin approves it later."""
    member = MemberId.parse(member_id)
    if member.instance != hub.instance:
        raise ValidationProblem(
            f"member {member} is not in instance {hub.instance}", field="member_id"
        )
    if not node_url.startswith("https://"):
        raise ValidationProblem(
            "a node URL must be https:// (nodes talk mutual TLS)", field="node_url"
        )
    load_csr(csr_pem.encode("utf-8"))  # refuse garbage before storing it
    registered_member(session, member)
    row = Enrollment(
        id=str(uuid.uuid4()), member_id=str(member), node_url=node_url, csr_pem=csr_pem
    )
    session.add(row)
    session.flush()
    return row


def get_enrollment(session: Session, enrollment_id: str) -> Enrollment:
    row = session.get(Enrollment, enrollment_id)
    if row is None:
        raise NotFound(f"no enrollment {enrollment_id}")
    return row


def approve_enrollment(session: Session, hub: Hub, enrollment_id: str) -> IssuedCertificate:
    """Issue the node certificate for a pending request."""
    row = get_enrollment(session, enrollment_id)
    if row.status != "pending":
        raise Conflict(f"enrollment {enrollment_id} is already {row.status}")
    cert = issue_node_certificate(
        session, hub, row.csr_pem.encode("utf-8"), row.member_id, row.node_url
    )
    row.status, row.certificate_serial, row.decided_at = "approved", cert.serial, naive_utcnow()
    session.flush()
    return cert


def reject_enrollment(session: Session, enrollment_id: str) -> Enrollment:
    row = get_enrollment(session, enrollment_id)
    if row.status != "pending":
        raise Conflict(f"enrollment {enrollment_id} is already {row.status}")
    row.status, row.decided_at = "rejected", naive_utcnow()
    session.flush()
    return row


def enrollment_view(session: Session, hub: Hub, row: Enrollment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "member_id": row.member_id,
        "node_url": row.node_url,
        "status": row.status,
    }
    if row.status == "approved" and row.certificate_serial:
        cert = session.scalar(
            select(IssuedCertificate).where(IssuedCertificate.serial == row.certificate_serial)
        )
        if cert is not None:
            pem = serialization.Encoding.PEM
            out["certificate"] = cert.certificate_pem
            out["chain"] = hub.ca.issuing.public_bytes(pem).decode("ascii")
            out["anchor"] = hub.ca.root.public_bytes(pem).decode("ascii")
    return out


# -- authenticating node calls -------------------------------------------------------------------


@dataclass(frozen=True)
class CallingNode:
    member: MemberId
    certificate: x509.Certificate
    message_id: str
    record_id: int  # its row in the hub's message log, finished by the route (hub_api)
    # What the route learnt about the call for its log row (a translation: the consumer's
    # request's purpose, legal basis and ids, from its verified evidence).
    noted: dict[str, str] = field(default_factory=dict)


def authenticate_node(
    session: Session,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    settings: Settings,
) -> CallingNode:
    """Check a node's signed call to the hub; record its message id (replays fail)."""
    from tsunagu.trust import jws as trust_jws

    token = headers.get(protocol.SIGNATURE, "")
    if not token:
        raise MeshFault("Client.MissingSignature", "hub calls must be signed by a node", 401)
    try:
        kid = str(trust_jws.read_protected_header(token).get("kid", ""))
    except Exception:
        raise MeshFault("Client.InvalidSignatureValue", "the signature is malformed", 401) from None
    row = session.scalar(select(IssuedCertificate).where(IssuedCertificate.fingerprint == kid))
    now = naive_utcnow()
    if row is None or row.kind != "node":
        raise MeshFault("Client.IncorrectCertificate", "the signer is not a node of this hub", 401)
    if row.revoked_at is not None:
        raise MeshFault("Client.IncorrectCertificate", "the signer's certificate is revoked", 401)
    if not row.not_before <= now <= row.not_after:
        raise MeshFault("Client.IncorrectCertificate", "the signer's certificate expired", 401)
    cert = x509.load_pem_x509_certificate(row.certificate_pem.encode("ascii"))
    message_id = protocol.check_signature(
        method,
        target,
        headers,
        body,
        cert,
        skew_seconds=settings.mesh_clock_skew,
        fault_prefix="Client",
    )
    member = MemberId.parse(row.member_id)
    record_id = insert_record(
        session.connection(),
        **_evidence(method, target, headers, body),
        side="hub",
        client=str(member),
        message_id=message_id,
    )
    return CallingNode(member, cert, message_id, record_id)


def _evidence(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
    """The fields of a hub log row that bind it to the signed call."""
    found = protocol.hashes(method, target, headers.items(), body)
    return {
        "service": f"hub:{target}"[:300],
        "method": method,
        "request_hash": found.request_hash,
        "request_signature": headers.get(protocol.SIGNATURE, ""),
        "request_digest": found.digest,
    }


def log_hub_refusal(
    session: Session,
    caller: CallingNode | None,
    call: tuple[str, str, dict[str, str], bytes],
    status: int,
    error: str,
    seconds: float,
) -> None:
    """A refused hub call, in its own row (the call's own transaction was rolled back).

    ``call`` is (method, target, headers, body). A caller whose signature verified keeps its
    message id and signature (side ``hub``); a call refused before that (unsigned, unknown or
    revoked signer, replay, outside the time window) is a ``refused`` row under a new id,
    its client the member its signature names if the hub issued that certificate — a claim,
    not a fact, which ``error_type`` qualifies.
    """
    from tsunagu.trust import jws as trust_jws

    method, target, headers, body = call
    if caller is not None:
        insert_record(
            session.connection(),
            **_evidence(method, target, headers, body),
            side="hub",
            client=str(caller.member),
            message_id=caller.message_id,
            status=status,
            error_type=error[:100],
            duration_ms=seconds * 1e3,
        )
        return
    client = "-"
    try:
        kid = str(trust_jws.read_protected_header(headers.get(protocol.SIGNATURE, "")).get("kid"))
        row = session.scalar(select(IssuedCertificate).where(IssuedCertificate.fingerprint == kid))
        client = row.member_id if row is not None else "-"
    except Exception:  # noqa: S110 - no readable signature: the client stays unknown
        pass
    insert_record(
        session.connection(),
        side="refused",
        client=client[:200],
        message_id=str(uuid.uuid4()),  # the sender's id may be the replayed one: never reused
        service=f"hub:{target}"[:300],
        method=method,
        status=status,
        error_type=error[:100],
        duration_ms=seconds * 1e3,
    )


def finish_hub_record(session: Session, caller: CallingNode, status: int, seconds: float) -> None:
    finish_record(
        session.connection(),
        caller.record_id,
        **caller.noted,
        status=status,
        duration_ms=seconds * 1e3,
    )


def note_evidence(caller: CallingNode, headers: dict[str, str]) -> None:
    """Put the consumer's request (why, its ids) on the translation's log row: the X-Road-Id
    links it to the consumer's and the provider's rows of the same request."""
    caller.noted.update(
        purpose=headers.get(protocol.PURPOSE, "")[:200],
        legal_basis=headers.get(protocol.LEGAL_BASIS, "")[:200],
        xroad_id=headers.get(protocol.XROAD_ID, "")[:100],
        issue=headers.get(protocol.XROAD_ISSUE, "")[:200],
        user_id=headers.get(protocol.XROAD_USER, "")[:200],
    )


# -- the hub's message log: sealed by its own TSA, exported for offline verification --------------


def hub_timestamper(sessions: Callable[[], Session], platform: Hub) -> EmbeddedTimestamper:
    """The hub's own TSA, in-process; each token's serial is committed before it is used."""

    def answer(query: bytes) -> bytes:
        with sessions() as session:
            der = answer_timestamp_query(session, platform, query)
            session.commit()
            return der

    return EmbeddedTimestamper(answer, TokenVerifier([platform.ca.root], (platform.ca.issuing,)))


def hub_export_header(session: Session, platform: Hub) -> dict[str, Any]:
    """What a verifier needs for the hub's log: every node certificate the hub ever issued."""
    b64 = messagelog.b64der
    nodes = [
        b64(x509.load_pem_x509_certificate(pem.encode("ascii")))
        for pem in session.scalars(
            select(IssuedCertificate.certificate_pem)
            .where(IssuedCertificate.kind == "node")
            .order_by(IssuedCertificate.id)
        )
    ]
    ca = {"root": b64(platform.ca.root), "issuing": [b64(platform.ca.issuing)]}
    own = platform.list_certificate
    return messagelog.header(
        f"{platform.instance} hub", own, nodes, ca, b64(platform.tsa.certificate)
    )


# -- service registry ---------------------------------------------------------------------------


def publish_services(
    session: Session, member: MemberId, services: list[dict[str, Any]], node_url: str
) -> int:
    """Replace the services a member declares; they appear in the trust list and the catalog."""
    base = f"{member.instance}/{member.member_class}/{member.code}"
    rows = []
    for item in services:
        if not isinstance(item, dict):
            raise ValidationProblem("each service is an object", field="services")
        subsystem, code = str(item.get("subsystem", "")), str(item.get("code", ""))
        service_id = f"{base}/{subsystem}/{code}"
        try:
            MemberId.parse(f"{base}/{subsystem}")
        except Exception:
            raise ValidationProblem(f"bad subsystem {subsystem!r}", field="subsystem") from None
        if not code or len(code) > 64 or "/" in code:
            raise ValidationProblem(f"bad service code {code!r}", field="code")
        rows.append(
            RegisteredService(
                service_id=service_id,
                member_id=base,
                title=str(item.get("title", code))[:300],
                personal_data=bool(item.get("personal_data")),
                data_items=[str(x) for x in item.get("data_items", [])],
                event_types=[str(x) for x in item.get("event_types", [])],
                openapi=item.get("openapi") if isinstance(item.get("openapi"), dict) else None,
            )
        )
    session.execute(delete(RegisteredService).where(RegisteredService.member_id == base))
    session.add_all(rows)
    _catalog_services(session, member, rows, node_url)
    session.flush()
    return len(rows)


def _catalog_services(
    session: Session, member: MemberId, rows: list[RegisteredService], node_url: str
) -> None:
    """Each mesh service as a dcat:DataService of the member's organization."""
    org = registered_member(session, member)
    prefix = f"urn:tsunagu:service:{member.instance}/{member.member_class}/{member.code}/"
    existing = {
        s.endpoint_description: s
        for s in session.scalars(
            select(DataService).where(
                DataService.organization_id == org.id,
                DataService.endpoint_description.startswith(prefix),
            )
        )
    }
    keep = set()
    for row in rows:
        urn = "urn:tsunagu:service:" + row.service_id
        keep.add(urn)
        service = existing.get(urn)
        if service is None:
            service = DataService(id=str(uuid.uuid4()), organization_id=org.id)
            session.add(service)
        service.title = row.title
        service.description = f"公共サービスメッシュのサービス {row.service_id}。" + (
            "個人データを返します（項目: " + "、".join(row.data_items) + "）。"
            if row.personal_data
            else ""
        )
        service.endpoint_url = f"{node_url.rstrip('/')}/mesh/v1/{row.service_id}"
        service.endpoint_description = urn
        service.openapi = row.openapi
    for urn, service in existing.items():
        if urn not in keep:
            session.delete(service)


def service_entries(session: Session) -> list[ServiceEntry]:
    rows = session.scalars(select(RegisteredService).order_by(RegisteredService.service_id))
    return [ServiceEntry(r.service_id, r.title) for r in rows]


def registered_services(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(RegisteredService).order_by(RegisteredService.service_id))
    return [
        {
            "id": r.service_id,
            "member": r.member_id,
            "title": r.title,
            "personal_data": r.personal_data,
            "data_items": r.data_items,
            "event_types": r.event_types,
        }
        for r in rows
    ]


# -- pseudonyms ---------------------------------------------------------------------------------


def pseudonym_key(settings: Settings) -> bytes:
    """The hub's pseudonym key (generated once, 0600)."""
    path: Path = settings.hub_pseudonym_key_file or settings.data_dir / "mesh" / "pseudonym.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    return path.read_bytes()


def derive_pseudonym(key: bytes, member_code: str, link: str) -> str:
    """A member's pseudonym for a link: 26 base32 characters of HMAC-SHA256(key, code|link)."""
    digest = hmac.new(key, f"{member_code}|{link}".encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:26].lower()


def _check_link(link: object) -> str:
    if (
        not isinstance(link, str)
        or len(link) != LINK_LENGTH
        or not all(c in "0123456789abcdef" for c in link)
    ):
        raise ValidationProblem(
            "a link is 64 lower-case hex digits (HMAC-SHA256 of the "
            "individual number under the linking key)",
            field="links",
        )
    return link


def issue_pseudonyms(
    session: Session, settings: Settings, member: MemberId, links: list[object]
) -> list[str]:
    """The caller's pseudonym for each link, creating the ones it did not have."""
    if len(links) > 10_000:
        raise ValidationProblem("at most 10,000 links per call", field="links")
    key = pseudonym_key(settings)
    checked = [_check_link(link) for link in links]
    known = {
        row.link: row.pseudonym
        for row in session.scalars(
            select(PseudonymLink).where(
                PseudonymLink.member_code == member.code, PseudonymLink.link.in_(checked)
            )
        )
    }
    out = []
    for link in checked:
        if link not in known:
            known[link] = derive_pseudonym(key, member.code, link)
            session.add(PseudonymLink(pseudonym=known[link], member_code=member.code, link=link))
        out.append(known[link])
    session.flush()
    return out


def translate(session: Session, pseudonym: str, from_code: str, to_code: str) -> str:
    """The ``to`` member's pseudonym for the person ``from`` knows as ``pseudonym``."""
    source = session.get(PseudonymLink, pseudonym)
    if source is None or source.member_code != from_code:
        raise MeshFault("Client.UnknownPerson", "the pseudonym is not one of the caller's", 404)
    target = session.scalar(
        select(PseudonymLink).where(
            PseudonymLink.member_code == to_code, PseudonymLink.link == source.link
        )
    )
    if target is None:
        raise MeshFault(
            "Client.UnknownPerson", "the other organization holds no pseudonym for this person", 404
        )
    return target.pseudonym


def verify_evidence(
    session: Session, evidence: dict[str, Any], settings: Settings, provider: MemberId
) -> tuple[MemberId, str, dict[str, str]]:
    """Check a consumer's signed request handed over by the provider.

    Returns (consumer, person, the request's headers).

    The provider may translate a pseudonym only for a request the consumer really signed, that
    names the provider's service and the person, within the time window.
    """
    from tsunagu.trust import jws as trust_jws

    try:
        method = str(evidence["method"])
        target = str(evidence["target"])
        headers = {str(k).lower(): str(v) for k, v in dict(evidence["headers"]).items()}
        body = base64.b64decode(str(evidence.get("body", "")), validate=True)
    except (KeyError, TypeError, ValueError):
        raise ValidationProblem(
            "evidence needs method, target, headers and base64 body", field="evidence"
        ) from None
    kid = str(trust_jws.read_protected_header(headers.get(protocol.SIGNATURE, "..")).get("kid"))
    row = session.scalar(select(IssuedCertificate).where(IssuedCertificate.fingerprint == kid))
    if row is None or row.revoked_at is not None:
        raise MeshFault(
            "Client.IncorrectCertificate", "the consumer's certificate is unknown or revoked", 401
        )
    cert = x509.load_pem_x509_certificate(row.certificate_pem.encode("ascii"))
    protocol.check_signature(
        method,
        target,
        headers,
        body,
        cert,
        skew_seconds=settings.mesh_clock_skew,
        fault_prefix="Client",
    )
    service = headers.get(protocol.XROAD_SERVICE, "")
    if (
        "/".join(service.split("/")[:3])
        != f"{provider.instance}/{provider.member_class}/{provider.code}"
    ):
        raise MeshFault("Client.AccessDenied", "the evidence is a request to another provider", 403)
    person = headers.get(protocol.PERSON, "")
    if not person:
        raise ValidationProblem("the evidence names no person", field="evidence")
    return MemberId.parse(row.member_id), person, headers
