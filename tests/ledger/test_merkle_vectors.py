"""RFC 9162 hashing and proofs against transparency-dev/merkle's vectors and random trees."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED
from tsunagu.ledger.merkle import (
    EMPTY_ROOT,
    ListNodes,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

TESTDATA = SHARED / "merkle" / "transparency-dev-merkle" / "testdata"
REFERENCE = SHARED / "merkle" / "rfc6962-reference-tree.json"


def _b(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _vectors(kind: str) -> list[Path]:
    return sorted((TESTDATA / kind).rglob("*.json"))


def test_vector_files_are_there() -> None:
    assert len(_vectors("inclusion")) > 80 and len(_vectors("consistency")) > 80


@pytest.mark.parametrize("path", _vectors("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [_b(p) for p in v["proof"] or []]
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(v["leafIdx"], v["treeSize"], _b(v["leafHash"]), proof, _b(v["root"]))
    else:
        verify_inclusion(v["leafIdx"], v["treeSize"], _b(v["leafHash"]), proof, _b(v["root"]))


@pytest.mark.parametrize("path", _vectors("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (
        v["size1"],
        v["size2"],
        [_b(p) for p in v["proof"] or []],
        _b(v["root1"]),
        _b(v["root2"]),
    )
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_reference_tree_roots_and_leaves() -> None:
    ref = json.loads(REFERENCE.read_text())
    leaves = [leaf_hash(bytes.fromhex(x)) for x in ref["leaf_inputs_hex"]]
    assert [h.hex() for h in leaves] == ref["leaf_hashes_hex"]
    for size, root in ref["root_hash_by_tree_size_hex"].items():
        assert root_from_leaves(leaves[: int(size)]).hex() == root
    assert root_from_leaves([]) == EMPTY_ROOT


def test_generated_proofs_match_the_vectors() -> None:
    ref = json.loads(REFERENCE.read_text())
    leaves = [leaf_hash(bytes.fromhex(x)) for x in ref["leaf_inputs_hex"]]
    happy = json.loads((TESTDATA / "inclusion" / "1" / "happy-path.json").read_text())
    nodes = ListNodes(leaves[: happy["treeSize"]])
    got = inclusion_proof(nodes, happy["leafIdx"], happy["treeSize"])
    assert got == [_b(p) for p in happy["proof"]]
    cons = json.loads((TESTDATA / "consistency" / "3" / "happy-path.json").read_text())
    got = consistency_proof(ListNodes(leaves[: cons["size2"]]), cons["size1"], cons["size2"])
    assert got == [_b(p) for p in cons["proof"]]


trees = st.integers(min_value=1, max_value=300).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(1, n))
)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_inclusion_and_consistency_proofs_verify_over_random_trees(t: tuple[int, int, int]) -> None:
    n, index, size1 = t
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    nodes = ListNodes(leaves)
    root = root_from_leaves(leaves)
    proof = inclusion_proof(nodes, index, n)
    verify_inclusion(index, n, leaves[index], proof, root)
    if proof:  # any change to the proof is caught
        with pytest.raises(ProofError):
            verify_inclusion(index, n, leaves[index], proof[:-1], root)
        with pytest.raises(ProofError):
            verify_inclusion(index, n, leaves[index], [*proof, proof[0]], root)
    with pytest.raises(ProofError):
        verify_inclusion(index, n, leaf_hash(b"other"), proof, root)
    cproof = consistency_proof(nodes, size1, n)
    verify_consistency(size1, n, cproof, root_from_leaves(leaves[:size1]), root)
    if size1 < n:
        wrong = root_from_leaves(leaves[: size1 - 1] or [leaf_hash(b"x")])
        with pytest.raises(ProofError):
            verify_consistency(size1, n, cproof, wrong, root)


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_hashes_of_the_wrong_length_are_refused(root: bytes, leaf: bytes) -> None:
    if len(root) == 32 and len(leaf) == 32:
        return
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, leaf, [], root)
