"""The platform CA: root and issuing certificates, node certificates from CSRs, CRLs.

Profile: RFC 5280 (certificates and CRLs), RFC 2986 (PKCS #10 requests). Node certificates carry
the member id (X-Road style ``INSTANCE/CLASS/CODE[/SUBSYSTEM]``) as the subject commonName and the
corporate number (法人番号) as the subject serialNumber, with the TLS server and client EKUs
(RFC 5280 §4.2.1.12) so one certificate serves mTLS in both directions. The TSA certificate has
the critical id-kp-timeStamping EKU (RFC 3161 §2.3); the trust-list signer has id-kp-documentSigning
(RFC 9336). Issuing stays in memory here; services.py records what was issued.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tsunagu.kernel import is_valid_corporate_number

from .errors import CertificateRejected, InvalidCsr, InvalidMemberId
from .keys import KeyStore, PublicKey, SigningKey, generate_key

MEMBER_CLASSES = ("GOV", "MUN", "COM", "NPO")
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning, RFC 9336
_SUBSYSTEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_INSTANCE = re.compile(r"^[A-Z][A-Z0-9-]{1,15}\Z")

ROOT_DAYS = 20 * 365
ISSUING_DAYS = 5 * 365
NODE_DAYS = 365


@dataclass(frozen=True)
class MemberId:
    """A member (or a member's subsystem): ``JP/GOV/{corporate number}[/{subsystem}]``."""

    instance: str
    member_class: str
    code: str  # 法人番号, 13 digits with its check digit
    subsystem: str = ""

    @classmethod
    def parse(cls, value: str) -> MemberId:
        """Parse and validate (class GOV|MUN|COM|NPO, corporate number check digit).

        The mesh parses the same few member ids on every message, so valid ones are
        remembered (frozen, so sharing them is safe); invalid ones are checked each time.
        """
        return _parse_member_id(value) if cls is MemberId else cls._parse(value)

    @classmethod
    def _parse(cls, value: str) -> MemberId:
        parts = value.split("/")
        if len(parts) not in (3, 4):
            raise InvalidMemberId(f"member id {value!r} is not INSTANCE/CLASS/CODE[/SUBSYSTEM]")
        instance, member_class, code = parts[:3]
        subsystem = parts[3] if len(parts) == 4 else ""
        if not _INSTANCE.match(instance):
            raise InvalidMemberId(f"instance {instance!r} is not 2-16 upper-case letters/digits")
        if member_class not in MEMBER_CLASSES:
            raise InvalidMemberId(f"member class {member_class!r} is not one of GOV, MUN, COM, NPO")
        if not is_valid_corporate_number(code):
            raise InvalidMemberId(f"{code!r} is not a corporate number (13 digits, check digit)")
        if len(parts) == 4 and not _SUBSYSTEM.match(subsystem):
            raise InvalidMemberId(f"subsystem {subsystem!r} must be 1-64 of A-Z a-z 0-9 . _ -")
        return cls(instance, member_class, code, subsystem)

    def __str__(self) -> str:
        base = f"{self.instance}/{self.member_class}/{self.code}"
        return f"{base}/{self.subsystem}" if self.subsystem else base


@lru_cache(maxsize=4096)
def _parse_member_id(value: str) -> MemberId:
    return MemberId._parse(value)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lowercase hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def member_id_of(cert: x509.Certificate) -> str:
    """The member id a node certificate was issued to (its subject commonName)."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _hash_for(key: SigningKey) -> hashes.SHA256 | None:
    # Ed25519 signs the message itself (RFC 8410 §6): the hash argument must be None.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _builder(
    subject: x509.Name, issuer: x509.Name, public: PublicKey, now: datetime, days: int
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # tolerate small clock skew between nodes
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def _name(common_name: str, organization: str = "tsunagu") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass
class PlatformCa:
    """Root and issuing CA; the issuing key signs every end-entity certificate and the CRL."""

    root: x509.Certificate
    issuing: x509.Certificate
    issuing_key: SigningKey

    @classmethod
    def create(cls, store: KeyStore, instance: str, now: datetime) -> PlatformCa:
        """Generate root and issuing keys and certificates into ``store``."""
        root_key, issuing_key = generate_key(), generate_key()
        root_name = _name(f"{instance} tsunagu Root CA")
        root = (
            _builder(root_name, root_name, root_key.public_key(), now, ROOT_DAYS)
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        issuing = (
            _builder(
                _name(f"{instance} tsunagu Issuing CA"),
                root_name,
                issuing_key.public_key(),
                now,
                ISSUING_DAYS,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(_aki(root), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        store.save_key("root-ca", root_key)
        store.save_key("issuing-ca", issuing_key)
        store.save_file("root-ca.pem", root.public_bytes(serialization.Encoding.PEM))
        store.save_file("issuing-ca.pem", issuing.public_bytes(serialization.Encoding.PEM))
        return cls(root, issuing, issuing_key)

    @classmethod
    def load(cls, store: KeyStore) -> PlatformCa:
        return cls(
            x509.load_pem_x509_certificate(store.load_file("root-ca.pem")),
            x509.load_pem_x509_certificate(store.load_file("issuing-ca.pem")),
            store.load_key("issuing-ca"),
        )

    def issue_node(
        self, csr_data: bytes, member: MemberId, node_url: str, now: datetime
    ) -> x509.Certificate:
        """A node certificate for ``member`` from a PKCS #10 request (TLS server + client)."""
        csr = load_csr(csr_data)
        requested = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if requested and requested[0].value != str(member):
            raise InvalidCsr(
                f"the request's commonName {requested[0].value!r} is not the member id {member}"
            )
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, member.member_class),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, member.code),
                x509.NameAttribute(NameOID.COMMON_NAME, str(member)),
            ]
        )
        public = csr.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
            raise InvalidCsr("key type not accepted (P-256, P-384 or Ed25519)")  # load_csr checked
        builder = (
            _builder(subject, self.issuing.subject, public, now, NODE_DAYS)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_leaf_usage(), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(_aki(self.issuing), critical=False)
        )
        names = _alt_names(csr, node_url)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self.issuing_key, _hash_for(self.issuing_key))

    def issue_service(
        self, public: PublicKey, common_name: str, purpose: x509.ObjectIdentifier, now: datetime
    ) -> x509.Certificate:
        """A hub service certificate (TSA, trust-list signer) with one critical EKU."""
        return (
            _builder(_name(common_name), self.issuing.subject, public, now, ISSUING_DAYS)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_leaf_usage(), critical=True)
            # RFC 3161 §2.3: the TSA's EKU is critical and holds only id-kp-timeStamping.
            .add_extension(x509.ExtendedKeyUsage([purpose]), critical=True)
            .add_extension(_aki(self.issuing), critical=False)
            .sign(self.issuing_key, _hash_for(self.issuing_key))
        )

    def crl(
        self, revoked: list[tuple[int, datetime]], now: datetime, hours: int
    ) -> x509.CertificateRevocationList:
        """An RFC 5280 §5 CRL listing ``(serial, revocation time)`` pairs."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.issuing.subject)
            .last_update(now)
            .next_update(now + timedelta(hours=hours))
        )
        for serial, when in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        return builder.sign(self.issuing_key, _hash_for(self.issuing_key))

    def check(
        self,
        cert: x509.Certificate,
        now: datetime,
        revoked_serials: frozenset[int] = frozenset(),
        purpose: x509.ObjectIdentifier | None = None,
    ) -> None:
        """Raise CertificateRejected unless ``cert`` chains to this CA and is valid at ``now``."""
        check_chain(cert, [self.issuing], [self.root], now, revoked_serials, purpose)


def check_chain(
    cert: x509.Certificate,
    intermediates: list[x509.Certificate],
    roots: list[x509.Certificate],
    now: datetime,
    revoked_serials: frozenset[int] = frozenset(),
    purpose: x509.ObjectIdentifier | None = None,
) -> None:
    """RFC 5280 §6 path validation for our short paths: leaf → issuing CA(s) → pinned root."""
    if cert.serial_number in revoked_serials:
        raise CertificateRejected(f"certificate {format(cert.serial_number, 'x')} is revoked")
    if purpose is not None:
        try:
            usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            raise CertificateRejected("certificate has no extended key usage") from None
        if purpose not in usage:
            raise CertificateRejected(f"certificate is not for {purpose.dotted_string}")
    current = cert
    for _depth in range(4):
        if not current.not_valid_before_utc <= now <= current.not_valid_after_utc:
            raise CertificateRejected(
                f"certificate {current.subject.rfc4514_string()} is not valid at "
                f"{now:%Y-%m-%dT%H:%M:%SZ} (valid {current.not_valid_before_utc:%Y-%m-%d} to "
                f"{current.not_valid_after_utc:%Y-%m-%d})"
            )
        root = next((r for r in roots if r == current), None)
        if root is not None:
            return
        issuer = next(
            (c for c in [*intermediates, *roots] if c.subject == current.issuer and c != current),
            None,
        )
        if issuer is None:
            raise CertificateRejected(
                f"certificate {current.subject.rfc4514_string()} is not issued by a trusted CA"
            )
        try:
            current.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise CertificateRejected("certificate signature does not verify") from None
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not constraints.ca:
            raise CertificateRejected("issuer is not a CA")
        current = issuer
    raise CertificateRejected("certificate chain too long")


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    """Parse a PEM or DER PKCS #10 request and check its self-signature and key type."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
    except ValueError:
        raise InvalidCsr("not a PKCS #10 certificate signing request (PEM or DER)") from None
    try:
        public = csr.public_key()
        valid = csr.is_signature_valid
    except (ValueError, TypeError, x509.UnsupportedGeneralNameType):
        raise InvalidCsr("the request's key or signature cannot be read") from None
    if not valid:
        raise InvalidCsr("the request's self-signature does not verify (proof of possession)")
    if isinstance(public, ec.EllipticCurvePublicKey):
        if not isinstance(public.curve, ec.SECP256R1 | ec.SECP384R1):
            raise InvalidCsr(f"EC curve {public.curve.name} not accepted (P-256, P-384, Ed25519)")
    elif not isinstance(public, ed25519.Ed25519PublicKey):
        raise InvalidCsr("key type not accepted (P-256, P-384 or Ed25519)")
    return csr


def _alt_names(csr: x509.CertificateSigningRequest, node_url: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    try:
        ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [x509.DNSName(n) for n in ext.get_values_for_type(x509.DNSName)]
        names += [x509.IPAddress(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    except ValueError:
        raise InvalidCsr("the request's subjectAltName cannot be read") from None
    host = urlsplit(node_url).hostname if node_url else None
    if host:
        try:
            general: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            general = x509.DNSName(host)
        if general not in names:
            names.append(general)
    return names


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _leaf_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
