"""Trust services: platform CA and certificates, the signed trust list, message signatures (JWS),
time-stamps (RFC 3161) and batch timestamping. See docs/trust.md for the trust model."""

from .batch import Batch, BatchProof, merkle_root, root_from_path, timestamp_batch
from .ca import MemberId, PlatformCa, check_chain
from .errors import (
    CertificateRejected,
    InvalidCsr,
    InvalidMemberId,
    SignatureInvalid,
    TimestampFailed,
    TrustError,
    TrustListRejected,
    TrustNotConfigured,
)
from .jws import Message, MessageSigner, canonical_form, message_digest, verify_message
from .services import Hub, init_ca, issue_node_certificate, open_hub, revoke_certificate
from .timestamp import EmbeddedTimestamper, HttpTimestamper, Timestamper, TokenVerifier
from .trustlist import TrustList, TrustListCache, verify_trust_list

__all__ = [
    "Batch",
    "BatchProof",
    "CertificateRejected",
    "EmbeddedTimestamper",
    "HttpTimestamper",
    "Hub",
    "InvalidCsr",
    "InvalidMemberId",
    "MemberId",
    "Message",
    "MessageSigner",
    "PlatformCa",
    "SignatureInvalid",
    "TimestampFailed",
    "Timestamper",
    "TokenVerifier",
    "TrustError",
    "TrustList",
    "TrustListCache",
    "TrustListRejected",
    "TrustNotConfigured",
    "canonical_form",
    "check_chain",
    "init_ca",
    "issue_node_certificate",
    "merkle_root",
    "message_digest",
    "open_hub",
    "revoke_certificate",
    "root_from_path",
    "timestamp_batch",
    "verify_message",
    "verify_trust_list",
]
