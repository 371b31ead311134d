"""HTTPS for local systems, with client certificates (X-Road's information-system TLS).

A node always has its plain local listener (``TSUNAGU_PORT``, loopback by default), where local
systems authenticate with an API token. With ``TSUNAGU_NODE_LOCAL_TLS_PORT`` set it also serves
the same app over HTTPS, where a local system may instead present a client certificate that the
node's operator registered (``tsunagu node local-cert add NAME CERT.pem``): a certificate of the
organization's own — self-signed or from its internal CA — not a platform certificate.

The TLS layer asks every client for a certificate (optional: token callers need none) and
verifies a presented one against the registered certificates themselves (partial-chain
verification, so a registered leaf issued by an internal CA is trusted as itself, not its CA).
A certificate that is not registered fails the handshake. The app then checks the fingerprint
against the registry once more, which is where a revocation takes effect at once (a verify
store can only grow; the registry is the authority). A running node loads certificates
registered after it started within :data:`REFRESH_SECONDS`.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.kernel import Conflict, NotFound, Settings, ValidationProblem, naive_utcnow
from tsunagu.trust import ca

from .models import LocalSystemCertificate, get_row

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
SELF_SIGNED_DAYS = 825


# -- the registry ---------------------------------------------------------------------------------


def _load(pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ValidationProblem("not a PEM certificate", field="certificate") from None


def register(session: Session, name: str, pem: str) -> LocalSystemCertificate:
    """Register a local system's client certificate under ``name``."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationProblem("a name of 1 to 200 characters", field="name")
    certificate = _load(pem)
    now = naive_utcnow()
    not_after = certificate.not_valid_after_utc.replace(tzinfo=None)
    if not_after <= now:
        raise ValidationProblem(f"the certificate expired on {not_after:%Y-%m-%d}")
    fingerprint = ca.fingerprint(certificate)
    known = session.scalar(
        select(LocalSystemCertificate).where(LocalSystemCertificate.fingerprint == fingerprint)
    )
    if known is not None:
        raise Conflict(f"this certificate is already registered as {known.name!r} (#{known.id})")
    row = LocalSystemCertificate(
        name=name,
        fingerprint=fingerprint,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        subject=certificate.subject.rfc4514_string()[:500],
        not_after=not_after,
    )
    session.add(row)
    session.flush()
    return row


def revoke(session: Session, certificate_id: int) -> LocalSystemCertificate:
    row = get_row(session, LocalSystemCertificate, certificate_id)
    if row is None:
        raise NotFound(f"no local-system certificate #{certificate_id}")
    if row.revoked_at is None:
        row.revoked_at = naive_utcnow()
    return row


def status(row: LocalSystemCertificate) -> str:
    """``active``, ``revoked`` or ``expired``."""
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if row.not_after <= naive_utcnow() else "active"


def listing(session: Session) -> list[LocalSystemCertificate]:
    return list(session.scalars(select(LocalSystemCertificate).order_by(LocalSystemCertificate.id)))


def active_name(session: Session, fingerprint: str) -> str | None:
    """The local system a certificate fingerprint belongs to, if registered and not revoked."""
    row = session.scalar(
        select(LocalSystemCertificate).where(
            LocalSystemCertificate.fingerprint == fingerprint,
            LocalSystemCertificate.revoked_at.is_(None),
        )
    )
    if row is None or row.not_after <= naive_utcnow():
        return None
    return row.name


# -- the listener's TLS ---------------------------------------------------------------------------


def server_files(settings: Settings) -> tuple[Path, Path]:
    """The listener's certificate and key: configured, or self-signed in data_dir/local-tls."""
    cert_file, key_file = settings.node_local_tls_cert_file, settings.node_local_tls_key_file
    if (cert_file is None) != (key_file is None):
        raise ValueError(
            "set both TSUNAGU_NODE_LOCAL_TLS_CERT_FILE and TSUNAGU_NODE_LOCAL_TLS_KEY_FILE, "
            "or neither (a self-signed certificate is then generated)"
        )
    if cert_file is not None and key_file is not None:
        return cert_file, key_file
    directory = settings.data_dir / "local-tls"
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    if not cert_path.exists() or not key_path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        host = settings.node_local_tls_host
        certificate = self_signed(key, f"tsunagu node {settings.node_member} local", host)
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        log.warning("local TLS: generated a self-signed server certificate in %s", cert_path)
    return cert_path, key_path


def self_signed(
    key: ec.EllipticCurvePrivateKey, common_name: str, host: str, client: bool = False
) -> x509.Certificate:
    """A self-signed certificate (the listener's own, or a test local system's)."""
    import ipaddress

    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(key, hashes.SHA256())
    )


@dataclass
class LocalTls:
    """The listener's SSL context and the registered certificates loaded into it."""

    context: ssl.SSLContext
    loaded: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, settings: Settings) -> LocalTls:
        cert_file, key_file = server_files(settings)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_file, key_file)
        # Optional: callers with a token present no certificate. A registered leaf is its own
        # trust anchor, whoever issued it.
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        return cls(context)

    def refresh(self, session: Session) -> int:
        """Load certificates registered since the last call; the number added."""
        added = 0
        for fingerprint, pem in session.execute(
            select(
                LocalSystemCertificate.fingerprint, LocalSystemCertificate.certificate_pem
            ).where(LocalSystemCertificate.revoked_at.is_(None))
        ):
            if fingerprint in self.loaded:
                continue
            self.context.load_verify_locations(cadata=pem)
            self.loaded.add(fingerprint)
            added += 1
        return added
