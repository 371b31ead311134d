"""Errors of the trust context; each renders as RFC 9457 problem+json."""

from __future__ import annotations

from tsunagu.kernel import Problem


class TrustError(Problem):
    """Base of every trust error: a certificate, signature, trust list or timestamp refused."""

    slug = "trust-error"
    title = "Trust check failed"
    status = 422


class InvalidCsr(TrustError):
    slug = "invalid-csr"
    title = "The certificate signing request is not acceptable"
    status = 422


class InvalidMemberId(TrustError):
    slug = "invalid-member-id"
    title = "The member identifier is not valid"
    status = 422


class CertificateRejected(TrustError):
    slug = "certificate-rejected"
    title = "The certificate is not trusted (unknown issuer, expired or revoked)"
    status = 403


class SignatureInvalid(TrustError):
    slug = "signature-invalid"
    title = "The signature does not verify"
    status = 401


class TrustListRejected(TrustError):
    slug = "trust-list-rejected"
    title = "The trust list is not valid (bad signature, wrong anchor or expired)"
    status = 503


class TrustNotConfigured(TrustError):
    slug = "trust-not-configured"
    title = "The platform CA is not set up on this instance"
    status = 503


class KeyStoreError(TrustError):
    slug = "key-store-error"
    title = "A private key could not be read"
    status = 500


class TimestampFailed(TrustError):
    slug = "timestamp-failed"
    title = "The time-stamp token could not be obtained or does not verify"
    status = 502
