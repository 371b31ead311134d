"""A node's identity: its key and CSR, the certificate the hub issued, the trust anchor, and the
TLS contexts and message signer built from them.

Files in the node's trust directory (``TSUNAGU_TRUST_DIR`` or ``data_dir/trust``):
``node.key.pem`` (PKCS #8, encrypted with the key-store passphrase, mode 0600), ``node.csr.pem``,
``enrollment.json`` (the hub's enrollment id), then after approval ``node.pem`` (the node
certificate), ``node-chain.pem`` (certificate + issuing CA, what TLS presents) and ``anchor.pem``
(the platform root: the one certificate a node trusts without a trust list).
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tsunagu.kernel import Settings
from tsunagu.trust.ca import MemberId, fingerprint
from tsunagu.trust.jws import MessageSigner
from tsunagu.trust.keys import KeyStore, SigningKey, generate_key
from tsunagu.trust.services import open_store

from .errors import NodeNotEnrolled

KEY = "node"


def make_csr(key: SigningKey, member: MemberId, node_url: str) -> bytes:
    """A PKCS #10 request with the member id as commonName (the CA checks it)."""
    import ipaddress
    from urllib.parse import urlsplit

    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(member))])
    )
    host = urlsplit(node_url).hostname
    if host:
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            name = x509.DNSName(host)
        builder = builder.add_extension(x509.SubjectAlternativeName([name]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def init_node(settings: Settings, member_id: str) -> tuple[KeyStore, bytes]:
    """Create the node key and CSR once (a second call returns the existing CSR)."""
    member = MemberId.parse(member_id)
    store = open_store(settings)
    if not store.has(KEY):
        store.save_key(KEY, generate_key())
    csr = make_csr(store.load_key(KEY), member, settings.effective_node_mesh_url)
    store.save_file("node.csr.pem", csr)
    return store, csr


def install_certificate(
    store: KeyStore, certificate_pem: str, chain_pem: str, anchor_pem: str
) -> x509.Certificate:
    """Save what the hub returned on approval; the certificate must match the node's key."""
    cert = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
    key = store.load_key(KEY)
    ours = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if ours != theirs:
        raise NodeNotEnrolled("the certificate the hub returned is not for this node's key")
    store.save_file("node.pem", certificate_pem.encode("ascii"))
    store.save_file("node-chain.pem", (certificate_pem + chain_pem).encode("ascii"))
    store.save_file("anchor.pem", anchor_pem.encode("ascii"))
    return cert


def save_enrollment(store: KeyStore, enrollment_id: str, hub_url: str) -> None:
    store.save_file("enrollment.json", json.dumps({"id": enrollment_id, "hub": hub_url}).encode())


@dataclass
class NodeIdentity:
    """Everything a running node needs to authenticate itself and others."""

    member: MemberId
    store: KeyStore
    key: SigningKey
    certificate: x509.Certificate
    anchor: x509.Certificate

    @classmethod
    def load(cls, settings: Settings) -> NodeIdentity:
        store = open_store(settings)
        if not store.path("node.pem").exists():
            raise NodeNotEnrolled(
                f"no node certificate in {store.directory}: run `tsunagu node init` and have "
                "the hub admin approve the request (`tsunagu hub approve`)"
            )
        return cls(
            member=MemberId.parse(settings.node_member),
            store=store,
            key=store.load_key(KEY),
            certificate=x509.load_pem_x509_certificate(store.load_file("node.pem")),
            anchor=x509.load_pem_x509_certificate(store.load_file("anchor.pem")),
        )

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)

    @cached_property
    def signer(self) -> MessageSigner:
        return MessageSigner(self.key, self.fingerprint)

    def _cafile_data(self) -> str:
        return self.anchor.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def _load_chain(self, context: ssl.SSLContext) -> None:
        context.load_cert_chain(
            certfile=str(self.store.path("node-chain.pem")),
            keyfile=str(self.store.path(f"{KEY}.key.pem")),
            password=self.store.passphrase,
        )

    def server_context(self) -> ssl.SSLContext:
        """TLS 1.2+ server that requires a client certificate from the platform CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._load_chain(context)
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=self._cafile_data())
        return context

    def client_context(self) -> ssl.SSLContext:
        """TLS 1.2+ client presenting the node certificate, trusting only the platform CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = True
        self._load_chain(context)
        context.load_verify_locations(cadata=self._cafile_data())
        return context
