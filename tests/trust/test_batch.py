"""Batch timestamping: one token over an RFC 9162 Merkle root, an offline proof per record."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tsunagu.trust import (
    EmbeddedTimestamper,
    Hub,
    TokenVerifier,
    TrustError,
    merkle_root,
    root_from_path,
    timestamp_batch,
)
from tsunagu.trust.batch import inclusion_path, leaf_hash, node_hash
from tsunagu.trust.services import answer_timestamp_query


def test_rfc9162_hashing_of_small_trees() -> None:
    a, b, c = b"a", b"b", b"c"
    assert merkle_root([]) == hashlib.sha256(b"").digest()
    assert merkle_root([a]) == hashlib.sha256(b"\x00a").digest()
    assert merkle_root([a, b, c]) == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_every_inclusion_proof_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    path = inclusion_path(leaves, index)
    assert root_from_path(index, len(leaves), leaves[index], path) == merkle_root(leaves)
    if len(leaves) > 1:
        assert root_from_path(index, len(leaves), leaves[index] + b"!", path) != merkle_root(leaves)


@pytest.mark.parametrize(
    ("index", "size", "path", "message"),
    [
        (3, 3, [], "outside"),
        (0, 2, [b"\x00" * 31], "32 bytes"),
        (0, 2, [], "shorter"),
        (0, 1, [b"\x00" * 32], "longer"),
    ],
)
def test_malformed_proofs_are_rejected(
    index: int, size: int, path: list[bytes], message: str
) -> None:
    with pytest.raises(TrustError, match=message):
        root_from_path(index, size, b"x", path)


def test_batch_gets_one_token_and_each_record_proves_inclusion_offline(
    session: Session, hub: Hub
) -> None:
    verifier = TokenVerifier([hub.ca.root], (hub.ca.issuing,))
    stamper = EmbeddedTimestamper(lambda q: answer_timestamp_query(session, hub, q), verifier)
    records = [hashlib.sha256(f"message-log record {i}".encode()).digest() for i in range(13)]
    batch = timestamp_batch(records, stamper)
    assert batch.root == merkle_root(records)
    for record, proof in zip(records, batch.proofs, strict=True):
        # Offline: the record, its proof and the pinned root certificate are all it takes.
        root = root_from_path(proof.index, proof.size, record, proof.path)
        verifier.verify(proof.token, root)
        assert proof.to_json()["size"] == 13
    forged = root_from_path(0, 13, b"forged record", batch.proofs[0].path)
    with pytest.raises(TrustError):
        verifier.verify(batch.token, forged)


class _NoTsa:
    """A stand-in for the TSA in a pure tree test: the token is not what is tested here."""

    def timestamp(self, digest: bytes) -> bytes:
        return b"token:" + digest


@pytest.mark.parametrize("size", [*range(1, 70), 127, 128, 129, 300])
def test_batch_proofs_are_rfc9162_paths_for_every_size(size: int) -> None:
    """The batch builds its tree level by level (speed); its root and every audit path must
    be RFC 9162's recursive MTH and PATH, for sizes that are and are not powers of two."""
    records = [f"record {i}".encode() for i in range(size)]
    batch = timestamp_batch(records, _NoTsa())  # type: ignore[arg-type]
    assert batch.root == merkle_root(records)
    assert batch.token == b"token:" + batch.root
    for i, proof in enumerate(batch.proofs):
        assert (proof.index, proof.size) == (i, size)
        assert list(proof.path) == inclusion_path(records, i)
        assert root_from_path(i, size, records[i], proof.path) == batch.root
