"""The embedded TSA (RFC 3161 + RFC 5816) and token verification with rfc3161-client."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from asn1crypto import algos, cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from rfc3161_client import TimestampRequestBuilder
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.trust import EmbeddedTimestamper, Hub, TimestampFailed, TokenVerifier
from tsunagu.trust.services import answer_timestamp_query
from tsunagu.trust.timestamp import QUERY_TYPE, REPLY_TYPE, build_query, decode_response
from tsunagu.trust.tsa import TimeStampResp

FIXTURES = SHARED / "timestamp" / "rfc3161-client-fixtures" / "test" / "fixtures"


def _chain(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def _verifier(directory: Path) -> TokenVerifier:
    certs = _chain(directory / "ts_chain.pem")
    roots = [c for c in certs if c.subject == c.issuer]
    return TokenVerifier(roots, tuple(c for c in certs if c not in roots))


@pytest.mark.parametrize("name", ["response-sha256", "response-sha384", "response-sha512"])
def test_sigstage_responses_verify(name: str) -> None:
    response = _verifier(FIXTURES / "sigstage").verify(
        (FIXTURES / "sigstage" / f"{name}.tsr").read_bytes(), b"hello"
    )
    assert response.tst_info.serial_number > 0


def test_injected_certificates_do_not_change_the_signer() -> None:
    # rfc3161-client picks the leaf by the signed issuerAndSerialNumber, so extra certificates
    # in the bag neither break nor replace the real signer.
    directory = FIXTURES / "test_tsa"
    _verifier(directory).verify((directory / "response-injected-certs.tsr").read_bytes(), b"hello")


def test_test_tsa_response_verifies_with_its_request_nonce() -> None:
    from rfc3161_client import TimeStampRequest  # noqa: F401  (type of the parsed request)
    from rfc3161_client._rust import parse_timestamp_request

    directory = FIXTURES / "test_tsa"
    request = parse_timestamp_request((directory / "request.der").read_bytes())
    _verifier(directory).verify(
        (directory / "response.tsr").read_bytes(), b"hello", nonce=request.nonce
    )


@pytest.mark.parametrize(
    ("directory", "name", "data"),
    [
        ("sigstage", "response-invalid-signature.tsr", b"hello"),
        ("sigstage", "response-sha256.tsr", b"hellO"),  # another message
        ("test_tsa", "other_response.tsr", b"hello"),  # another TSA
    ],
)
def test_invalid_fixtures_fail(directory: str, name: str, data: bytes) -> None:
    with pytest.raises(TimestampFailed):
        _verifier(FIXTURES / directory).verify((FIXTURES / directory / name).read_bytes(), data)


def test_response_without_certificate_needs_the_tsa_certificate() -> None:
    directory = FIXTURES / "sigstage"
    der = (directory / "response-no-embedded-cert.tsr").read_bytes()
    with pytest.raises(TimestampFailed):
        _verifier(directory).verify(der, b"hello")
    certs = _chain(directory / "ts_chain.pem")
    roots = [c for c in certs if c.subject == c.issuer]
    leaf = next(c for c in certs if all(c.subject != o.issuer for o in certs if o != c))
    verifier = TokenVerifier(roots, tuple(c for c in certs if c not in roots), leaf)
    verifier.verify(der, b"hello")


def _hub_verifier(hub: Hub) -> TokenVerifier:
    return TokenVerifier([hub.ca.root], (hub.ca.issuing,))


def test_tokens_verify_echo_the_nonce_and_have_unique_serials(session: Session, hub: Hub) -> None:
    serials = set()
    for data in (b"one", b"two", b"one"):
        query, nonce = build_query(data)
        der = answer_timestamp_query(session, hub, query)
        response = _hub_verifier(hub).verify(der, data, nonce=nonce)
        assert response.tst_info.nonce == nonce
        assert response.tst_info.policy.dotted_string == hub.tsa.policy
        serials.add(response.tst_info.serial_number)
    assert len(serials) == 3


def test_token_carries_ess_cert_id_v2_and_a_critical_timestamping_eku(
    session: Session, hub: Hub
) -> None:
    query, _ = build_query(b"x")
    der = answer_timestamp_query(session, hub, query)
    token = TimeStampResp.load(der)["time_stamp_token"]
    signer = token["content"]["signer_infos"][0]
    attributes = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    ess = attributes["signing_certificate_v2"]["certs"][0]
    tsa_der = hub.tsa.certificate.public_bytes(serialization.Encoding.DER)
    bag = [c.chosen.dump() for c in token["content"]["certificates"]]
    assert tsa_der in bag
    assert ess["cert_hash"].native == hashlib.sha256(tsa_der).digest()
    eku = hub.tsa.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.ExtendedKeyUsageOID.TIME_STAMPING]


def test_embedded_timestamper_behind_the_protocol(session: Session, hub: Hub) -> None:
    stamper = EmbeddedTimestamper(
        lambda query: answer_timestamp_query(session, hub, query), _hub_verifier(hub)
    )
    der = stamper.timestamp(b"record")
    _hub_verifier(hub).verify(der, b"record")
    with pytest.raises(TimestampFailed):
        _hub_verifier(hub).verify(der, b"other")


def _query(algorithm: str = "sha256", digest: bytes | None = None, **extra: object) -> bytes:
    value = digest if digest is not None else hashlib.new(algorithm, b"x").digest()
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
                            "hashed_message": value},
        "cert_req": True,
    }  # fmt: skip
    fields.update(extra)
    return tsp.TimeStampReq(fields).dump()


@pytest.mark.parametrize(
    ("query", "fail_info"),
    [
        (_query("sha1"), "bad_alg"),
        (_query("md5"), "bad_alg"),
        (_query(digest=b"short"), "bad_data_format"),
        (b"\x30\x03\x02\x01\x01", "bad_data_format"),
        (b"not asn.1 at all", "bad_data_format"),
        (_query(req_policy="1.2.3.4"), "unaccepted_policy"),
        (_query(version=2), "bad_request"),
        (
            _query(
                extensions=[{"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}]
            ),
            "unaccepted_extensions",
        ),
    ],
)
def test_bad_queries_are_rejected_with_the_right_fail_info(
    session: Session, hub: Hub, query: bytes, fail_info: str
) -> None:
    response = TimeStampResp.load(answer_timestamp_query(session, hub, query))
    assert response["status"]["status"].native == "rejection"
    assert response["status"]["fail_info"].native == {fail_info}
    assert response["time_stamp_token"].native is None


def test_post_tsa_over_http(client: TestClient) -> None:
    request = TimestampRequestBuilder().data(b"hello").build()
    reply = client.post("/tsa", content=request.as_bytes(), headers={"Content-Type": QUERY_TYPE})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == REPLY_TYPE
    response = decode_response(reply.content)
    assert response.status == 0 and response.tst_info.nonce == request.nonce
    hub = client.app.state.trust_hub  # type: ignore[attr-defined]
    _hub_verifier(hub).verify(reply.content, b"hello", nonce=request.nonce)

    rejected = client.post("/tsa", content=b"junk", headers={"Content-Type": QUERY_TYPE})
    assert rejected.status_code == 200
    assert TimeStampResp.load(rejected.content)["status"]["status"].native == "rejection"

    wrong_type = client.post("/tsa", content=request.as_bytes())
    assert wrong_type.status_code == 415
    assert wrong_type.headers["content-type"] == "application/problem+json"


def test_signed_attributes_are_cms_valid(session: Session, hub: Hub) -> None:
    query, _ = build_query(b"cms")
    token = TimeStampResp.load(answer_timestamp_query(session, hub, query))["time_stamp_token"]
    assert isinstance(token, cms.ContentInfo)
    signed = token["content"]
    assert signed["encap_content_info"]["content_type"].native == "tst_info"
    assert signed["version"].native == "v3"
