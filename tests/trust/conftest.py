"""Fixtures of the trust tests: a hub (CA, TSA, trust-list signer) in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session

from tsunagu.accounts import create_organization
from tsunagu.kernel import Settings
from tsunagu.trust import Hub, init_ca
from tsunagu.trust.keys import SigningKey, generate_key

MEMBER = "JP/GOV/8000012050001/node1"


@pytest.fixture
def hub(settings: Settings) -> Hub:
    return init_ca(settings)


@pytest.fixture
def member(session: Session) -> str:
    """A registered organization (法人番号 8000012050001) and its node's member id."""
    create_organization(session, "trust-org", "テスト市", corporate_number="8000012050001")
    session.flush()
    return MEMBER


def make_csr(key: SigningKey, common_name: str = MEMBER, dns: str | None = None) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if dns:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False
        )
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519

    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def node_key() -> SigningKey:
    return generate_key("Ed25519")


@pytest.fixture
def trust_dir(settings: Settings) -> Path:
    return settings.data_dir / "trust"
