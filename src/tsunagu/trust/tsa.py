"""The embedded time-stamp authority: RFC 3161 requests in, RFC 3161 responses out.

Specs: RFC 3161 §2.4 (TimeStampReq, TimeStampResp, TSTInfo, PKIStatusInfo/PKIFailureInfo),
RFC 5652 (CMS SignedData carrying the token), RFC 5816 (ESSCertIDv2 in a signingCertificateV2
signed attribute, so SHA-256 identifies the TSA certificate). Tokens are built with asn1crypto
and signed with ``cryptography``; each gets a unique serial from the caller (persisted), echoes
the request's nonce and names the policy. Bad requests get ``rejection`` with the failInfo bit
RFC 3161 §2.4.2 prescribes: badAlg, badRequest, badDataFormat, unacceptedPolicy,
unacceptedExtension, systemFailure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .keys import SigningKey

DEFAULT_POLICY = "0.4.0.2023.1.1"  # ETSI EN 319 421 baseline time-stamp policy
DIGESTS = {"sha256": 32, "sha384": 48, "sha512": 64}
MAX_REQUEST_BYTES = 4096


class TimeStampResp(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """RFC 3161 §2.4.2 TimeStampResp; asn1crypto's own makes the OPTIONAL token mandatory."""

    _fields = [  # noqa: RUF012 -- asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class Rejection(Exception):
    """A request the TSA refuses, with the RFC 3161 failInfo bit name (asn1crypto's spelling)."""

    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


@dataclass(frozen=True)
class ParsedRequest:
    """The parts of a TimeStampReq the TSA acts on."""

    hash_algorithm: str
    hashed_message: bytes
    nonce: int | None
    cert_req: bool
    policy: str | None


def parse_request(data: bytes) -> ParsedRequest:
    """Decode and check a DER TimeStampReq, raising Rejection with the right failInfo."""
    if not data or len(data) > MAX_REQUEST_BYTES:
        raise Rejection("bad_data_format", "the request is empty or too large")
    try:
        request = tsp.TimeStampReq.load(data, strict=True)
        version = request["version"].native
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
        nonce = request["nonce"].native
        cert_req = bool(request["cert_req"].native)
        policy = request["req_policy"].dotted if request["req_policy"].native else None
        has_extensions = bool(request["extensions"].native)
    except (ValueError, TypeError, KeyError):
        raise Rejection("bad_data_format", "the request is not a DER TimeStampReq") from None
    if version != "v1":
        raise Rejection("bad_request", f"unsupported TimeStampReq version {version}")
    if algorithm not in DIGESTS:
        raise Rejection("bad_alg", f"hash algorithm {algorithm} is not accepted (SHA-2 only)")
    if len(hashed) != DIGESTS[algorithm]:
        raise Rejection("bad_data_format", f"a {algorithm} digest is {DIGESTS[algorithm]} bytes")
    if has_extensions:
        raise Rejection("unaccepted_extensions", "request extensions are not supported")
    return ParsedRequest(algorithm, hashed, nonce, cert_req, policy)


def rejection_response(rejection: Rejection) -> bytes:
    """A TimeStampResp with status ``rejection``, a statusString and one failInfo bit."""
    response = TimeStampResp(
        {
            "status": {
                "status": "rejection",
                "status_string": [rejection.text],
                "fail_info": tsp.PKIFailureInfo({rejection.fail_info}),
            }
        }
    )
    return bytes(response.dump())


class TimeStampAuthority:
    """Signs TSTInfo structures with the TSA key; serials come from ``next_serial``."""

    def __init__(
        self,
        key: SigningKey,
        certificate: x509.Certificate,
        chain: list[x509.Certificate],
        policy: str = DEFAULT_POLICY,
    ) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the TSA key must be an ECDSA key")
        self.key = key
        self.certificate = certificate
        self.chain = chain
        self.policy = policy
        der = certificate.public_bytes(serialization.Encoding.DER)
        self._cert = asn1_x509.Certificate.load(der)
        self._chain = [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in chain
        ]
        self._ess = tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        # hashAlgorithm omitted: its DEFAULT is SHA-256 (RFC 5816 §2.2.1).
                        "cert_hash": hashlib.sha256(der).digest(),
                        "issuer_serial": {
                            "issuer": [
                                asn1_x509.GeneralName(
                                    name="directory_name", value=self._cert.issuer
                                )
                            ],
                            "serial_number": certificate.serial_number,
                        },
                    }
                ]
            }
        )

        # asn1crypto re-encodes a structure built from parsed parts on every dump (about 25 ms a
        # token); parts loaded from DER keep their bytes, so encode the fixed parts once.
        self._tsa_name = asn1_x509.GeneralName(
            name="directory_name", value=self._cert.subject
        ).dump()
        self._sid = cms.SignerIdentifier(
            {
                "issuer_and_serial_number": {
                    "issuer": self._cert.issuer,
                    "serial_number": self._cert.serial_number,
                }
            }
        ).dump()
        self._ess_der = self._ess.dump()
        self._certs_der = [c.dump() for c in [self._cert, *self._chain]]

    def respond(
        self, data: bytes, next_serial: Callable[[ParsedRequest, datetime], int], now: datetime
    ) -> tuple[bytes, ParsedRequest | None]:
        """Answer a DER request: a granted response, or a rejection with its failInfo."""
        try:
            request = parse_request(data)
            if request.policy is not None and request.policy != self.policy:
                raise Rejection("unaccepted_policy", f"policy {request.policy} is not offered")
        except Rejection as rejection:
            return rejection_response(rejection), None
        gen_time = now.replace(microsecond=0)  # DER GeneralizedTime; accuracy says ±1 s
        serial = next_serial(request, gen_time)
        return self.grant(request, serial, gen_time), request

    def grant(self, request: ParsedRequest, serial: int, gen_time: datetime) -> bytes:
        """Build and sign the token for an accepted request."""
        info: dict[str, object] = {
            "version": "v1",
            "policy": self.policy,
            "message_imprint": {
                "hash_algorithm": {"algorithm": request.hash_algorithm},
                "hashed_message": request.hashed_message,
            },
            "serial_number": serial,
            "gen_time": core.GeneralizedTime(gen_time),
            "accuracy": {"seconds": 1},
            "ordering": False,
            "tsa": asn1_x509.GeneralName.load(self._tsa_name),
        }
        if request.nonce is not None:
            info["nonce"] = request.nonce
        content = tsp.TSTInfo(info).dump()
        attributes = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "signing_time", "values": [cms.Time({"generalized_time": gen_time})]},
                {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
                {
                    "type": "signing_certificate_v2",
                    "values": [tsp.SigningCertificateV2.load(self._ess_der)],
                },
            ]
        )
        # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF.
        signature = self.key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._sid),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": attributes,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
                "signature": signature,
            }
        )
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(content),
            },
            "signer_infos": [signer],
        }
        if request.cert_req:  # RFC 3161 §2.4.1: the TSA's certificate MUST then be included
            signed_data["certificates"] = [
                cms.CertificateChoices({"certificate": asn1_x509.Certificate.load(der)})
                for der in self._certs_der
            ]
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
        response = TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
        return bytes(response.dump())
