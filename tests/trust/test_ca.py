"""Platform CA: node certificates from CSRs, member ids, revocation, keys encrypted at rest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import SecretStr
from sqlalchemy.orm import Session

from tsunagu.kernel import NotFound, Settings, utcnow
from tsunagu.trust import (
    CertificateRejected,
    Hub,
    InvalidCsr,
    InvalidMemberId,
    MemberId,
    issue_node_certificate,
    revoke_certificate,
)
from tsunagu.trust.errors import KeyStoreError
from tsunagu.trust.keys import KeyStore, generate_key
from tsunagu.trust.services import crl_der, load_hub, revoked_serials

from .conftest import MEMBER, make_csr


def _cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


@pytest.mark.parametrize("kind", ["Ed25519", "P-256"])
def test_issues_node_certificate_for_a_registered_member(
    session: Session, hub: Hub, member: str, kind: str
) -> None:
    key = generate_key(kind)
    row = issue_node_certificate(
        session, hub, make_csr(key, dns="node1.example"), member, "https://node1.example:8443"
    )
    cert = _cert(row.certificate_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == MEMBER
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "8000012050001"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usage) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["node1.example"]
    assert cert.public_key() == key.public_key()
    hub.ca.check(cert, utcnow(), purpose=ExtendedKeyUsageOID.CLIENT_AUTH)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("JP/GOV/8000012050002/node1", "corporate number"),  # wrong check digit
        ("JP/XYZ/8000012050001/node1", "member class"),
        ("JP/GOV/800001205000/node1", "corporate number"),
        ("JP/GOV/8000012050001/bad sub", "subsystem"),
        ("JP", "INSTANCE/CLASS/CODE"),
    ],
)
def test_rejects_invalid_member_ids(value: str, fragment: str) -> None:
    with pytest.raises(InvalidMemberId, match=fragment):
        MemberId.parse(value)


def test_member_classes_are_the_four_of_the_design() -> None:
    for cls in ("GOV", "MUN", "COM", "NPO"):
        assert str(MemberId.parse(f"JP/{cls}/8000012050001")) == f"JP/{cls}/8000012050001"


def test_refuses_unregistered_member(
    session: Session, hub: Hub, node_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(InvalidMemberId, match="no registered organization"):
        issue_node_certificate(session, hub, make_csr(node_key), MEMBER)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    ],
)
def test_rejects_malformed_csr(session: Session, hub: Hub, member: str, data: bytes) -> None:
    with pytest.raises(InvalidCsr):
        issue_node_certificate(session, hub, data, member)


def test_rejects_csr_with_a_broken_signature(session: Session, hub: Hub, member: str) -> None:
    key = generate_key("P-256")
    der = bytearray(x509.load_pem_x509_csr(make_csr(key)).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01  # inside the signature
    with pytest.raises(InvalidCsr):
        issue_node_certificate(session, hub, bytes(der), member)


def test_rejects_rsa_and_foreign_common_name(session: Session, hub: Hub, member: str) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, MEMBER)]))
        .sign(rsa_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(InvalidCsr, match="key type"):
        issue_node_certificate(session, hub, csr, member)
    other = make_csr(generate_key(), "JP/GOV/8000012050001/other")
    with pytest.raises(InvalidCsr, match="commonName"):
        issue_node_certificate(session, hub, other, member)


def test_expired_certificate_is_rejected(session: Session, hub: Hub, member: str) -> None:
    row = issue_node_certificate(session, hub, make_csr(generate_key()), member)
    cert = _cert(row.certificate_pem)
    later = cert.not_valid_after_utc + timedelta(seconds=1)
    with pytest.raises(CertificateRejected, match="not valid at"):
        hub.ca.check(cert, later)


def test_revoked_certificate_is_rejected_and_listed_in_the_crl(
    session: Session, hub: Hub, member: str
) -> None:
    row = issue_node_certificate(session, hub, make_csr(generate_key()), member)
    revoke_certificate(session, row.serial.upper(), "key_compromise")
    serials = revoked_serials(session)
    with pytest.raises(CertificateRejected, match="revoked"):
        hub.ca.check(_cert(row.certificate_pem), utcnow(), serials)
    crl = x509.load_der_x509_crl(crl_der(session, hub))
    assert crl.is_signature_valid(hub.ca.issuing.public_key())  # type: ignore[arg-type]
    assert crl.get_revoked_certificate_by_serial_number(int(row.serial, 16)) is not None
    with pytest.raises(NotFound):
        revoke_certificate(session, "abcdef")


def test_certificate_from_another_ca_is_rejected(tmp_path: Path, hub: Hub) -> None:
    from tsunagu.trust.ca import PlatformCa

    other = PlatformCa.create(KeyStore(tmp_path / "other", b"x"), "JP", utcnow())
    with pytest.raises(
        CertificateRejected, match=r"not issued by a trusted CA|signature does not verify"
    ):
        hub.ca.check(other.issuing, utcnow())


def test_private_keys_are_encrypted_at_rest(settings: Settings, hub: Hub, trust_dir: Path) -> None:
    for name in ("root-ca", "issuing-ca", "tsa", "trust-list"):
        pem = (trust_dir / f"{name}.key.pem").read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert (trust_dir / f"{name}.key.pem").stat().st_mode & 0o077 == 0
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(pem, None)
    wrong = settings.model_copy(update={"trust_key_passphrase": SecretStr("wrong")})
    with pytest.raises(KeyStoreError, match="cannot be decrypted") as caught:
        load_hub(wrong)
    assert "wrong" not in caught.value.detail


def test_production_mode_needs_a_passphrase(settings: Settings, tmp_path: Path) -> None:
    prod = settings.model_copy(update={"trust_dev_mode": False, "trust_dir": tmp_path / "p"})
    with pytest.raises(KeyStoreError, match="no key passphrase"):
        load_hub(prod)
    secret = tmp_path / "kek"
    secret.write_text("from-a-kms-mounted-file\n")
    store = KeyStore.open(tmp_path / "p", passphrase_file=secret)
    assert store.passphrase == b"from-a-kms-mounted-file"
