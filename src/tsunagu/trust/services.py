"""Use cases of the trust context on the hub: set up the CA, issue and revoke certificates,
answer time-stamp requests with persisted serials.

Keys are opened from the key store (keys.py); only certificates and serials reach the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tsunagu.accounts import Organization
from tsunagu.kernel import Conflict, NotFound, Settings, utcnow

from .ca import DOCUMENT_SIGNING, MemberId, PlatformCa, fingerprint, serial_hex
from .errors import InvalidMemberId, TrustNotConfigured
from .keys import DEV_WARNING, KeyStore, SigningKey, generate_key
from .models import IssuedCertificate, TimestampSerial
from .tsa import ParsedRequest, TimeStampAuthority

log = logging.getLogger(__name__)

REVOCATION_REASONS = ("unspecified", "key_compromise", "affiliation_changed", "superseded",
                      "cessation_of_operation")  # fmt: skip


def trust_directory(settings: Settings) -> Path:
    return settings.trust_dir or settings.data_dir / "trust"


def open_store(settings: Settings) -> KeyStore:
    return KeyStore.open(
        trust_directory(settings),
        settings.trust_key_passphrase.get_secret_value(),
        settings.trust_key_passphrase_file,
        dev_mode=settings.trust_dev_mode,
    )


@dataclass
class Hub:
    """The hub's trust material: CA, TSA and trust-list signer, loaded from the key store."""

    ca: PlatformCa
    tsa: TimeStampAuthority
    list_key: SigningKey
    list_certificate: x509.Certificate
    instance: str
    dev_mode: bool

    @property
    def chain(self) -> list[x509.Certificate]:
        return [self.ca.issuing]


def init_ca(settings: Settings, now: datetime | None = None) -> Hub:
    """Create root and issuing CA, the TSA certificate and the trust-list signer (once)."""
    now = now or utcnow()
    store = open_store(settings)
    if store.has("root-ca"):
        raise Conflict(f"a platform CA already exists in {store.directory}")
    ca = PlatformCa.create(store, settings.trust_instance, now)
    for name, common_name, purpose in (
        ("tsa", f"{settings.trust_instance} tsunagu Time-Stamp Authority",
         ExtendedKeyUsageOID.TIME_STAMPING),
        ("trust-list", f"{settings.trust_instance} tsunagu Trust List Signer", DOCUMENT_SIGNING),
    ):  # fmt: skip
        key = generate_key()
        cert = ca.issue_service(key.public_key(), common_name, purpose, now)
        store.save_key(name, key)
        store.save_file(f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM))
    return load_hub(settings, store)


def load_hub(settings: Settings, store: KeyStore | None = None) -> Hub:
    """The hub's trust material from the key store (raises if it was never created)."""
    store = store or open_store(settings)
    if not store.has("root-ca"):
        raise TrustNotConfigured(
            f"no platform CA in {store.directory}: run `tsunagu trust init-ca`"
        )
    ca = PlatformCa.load(store)
    tsa_cert = x509.load_pem_x509_certificate(store.load_file("tsa.pem"))
    return Hub(
        ca=ca,
        tsa=TimeStampAuthority(store.load_key("tsa"), tsa_cert, [ca.issuing], settings.tsa_policy),
        list_key=store.load_key("trust-list"),
        list_certificate=x509.load_pem_x509_certificate(store.load_file("trust-list.pem")),
        instance=settings.trust_instance,
        dev_mode=settings.trust_dev_mode,
    )


def open_hub(settings: Settings) -> Hub:
    """Load the hub; in development mode create everything on first start, warning loudly."""
    store = open_store(settings)
    if not store.has("root-ca") and settings.trust_dev_mode:
        log.warning(DEV_WARNING)
        return init_ca(settings)
    hub = load_hub(settings, store)
    if settings.trust_dev_mode:
        log.warning(DEV_WARNING)
    return hub


def registered_member(session: Session, member: MemberId) -> Organization:
    """The organization registered with the member's corporate number (法人番号)."""
    org = session.scalar(
        select(Organization).where(Organization.corporate_number == member.code).limit(1)
    )
    if org is None:
        raise InvalidMemberId(
            f"no registered organization has corporate number {member.code}: "
            "create it first (tsunagu admin create-org --corporate-number)"
        )
    return org


def issue_node_certificate(
    session: Session, hub: Hub, csr: bytes, member_id: str, node_url: str = "",
    now: datetime | None = None,
) -> IssuedCertificate:  # fmt: skip
    """Issue a node certificate for a registered member from a PKCS #10 request and record it."""
    member = MemberId.parse(member_id)
    if member.instance != hub.instance:
        raise InvalidMemberId(f"member {member} is not in instance {hub.instance}")
    if node_url and not node_url.startswith(("https://", "http://")):
        raise InvalidMemberId(f"node URL {node_url!r} must be http(s)://")
    registered_member(session, member)
    cert = hub.ca.issue_node(csr, member, node_url, now or utcnow())
    row = IssuedCertificate(
        serial=serial_hex(cert),
        kind="node",
        member_id=str(member),
        subject=cert.subject.rfc4514_string(),
        node_url=node_url,
        fingerprint=fingerprint(cert),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        not_before=cert.not_valid_before_utc.replace(tzinfo=None),
        not_after=cert.not_valid_after_utc.replace(tzinfo=None),
    )
    session.add(row)
    session.flush()
    return row


def revoke_certificate(
    session: Session, serial: str, reason: str = "unspecified", now: datetime | None = None
) -> IssuedCertificate:
    """Mark certificate ``serial`` (hex) revoked; it leaves the trust list and enters the CRL."""
    if reason not in REVOCATION_REASONS:
        raise InvalidMemberId(f"reason must be one of {', '.join(REVOCATION_REASONS)}")
    normalized = serial.lower().removeprefix("0x").replace(":", "").lstrip("0") or "0"
    row = session.scalar(select(IssuedCertificate).where(IssuedCertificate.serial == normalized))
    if row is None:
        raise NotFound(f"no certificate with serial {serial}")
    if row.revoked_at is None:
        row.revoked_at = (now or utcnow()).replace(tzinfo=None)
        row.revocation_reason = reason
        session.flush()
    return row


def certificates(session: Session) -> list[IssuedCertificate]:
    return list(session.scalars(select(IssuedCertificate).order_by(IssuedCertificate.id)))


def revoked_serials(session: Session) -> frozenset[int]:
    rows = session.scalars(
        select(IssuedCertificate.serial).where(IssuedCertificate.revoked_at.is_not(None))
    )
    return frozenset(int(s, 16) for s in rows)


def certificate_row(session: Session, cert: x509.Certificate) -> IssuedCertificate | None:
    return session.scalar(
        select(IssuedCertificate).where(IssuedCertificate.fingerprint == fingerprint(cert))
    )


def answer_timestamp_query(
    session: Session, hub: Hub, query: bytes, now: datetime | None = None
) -> bytes:
    """Answer an RFC 3161 query; the serial is a new row id, so serials never repeat."""

    def next_serial(request: ParsedRequest, gen_time: datetime) -> int:
        row = TimestampSerial(
            hash_algorithm=request.hash_algorithm,
            message_imprint=request.hashed_message.hex(),
            gen_time=gen_time.replace(tzinfo=None),
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # pragma: no cover - the database allocates ids
            raise Conflict("time-stamp serial collision; retry") from None
        return row.id

    der, _ = hub.tsa.respond(query, next_serial, now or utcnow())
    return der


def crl_der(session: Session, hub: Hub, now: datetime | None = None, hours: int = 24) -> bytes:
    """The current CRL (RFC 5280 §5), DER."""
    rows = session.scalars(
        select(IssuedCertificate).where(IssuedCertificate.revoked_at.is_not(None))
    )
    # Stored times are naive UTC; cryptography reads a naive datetime as UTC.
    revoked = [(int(r.serial, 16), r.revoked_at) for r in rows if r.revoked_at is not None]
    crl = hub.ca.crl(revoked, now or utcnow(), hours)
    return crl.public_bytes(serialization.Encoding.DER)
