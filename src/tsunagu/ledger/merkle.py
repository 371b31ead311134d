"""Merkle tree hashing and proofs, RFC 9162 §2.1 (SHA-256, leaf prefix 0x00, node prefix 0x01).

Proof generation (§2.1.3.1 PATH, §2.1.4.1 SUBPROOF) works over any source of complete-subtree
hashes (``node(height, index)``), so the same code serves an in-memory list and the stored tiles.
Verification follows §2.1.3.2 and §2.1.4.2, with the input checks of transparency-dev/merkle's
test vectors (hashes must be 32 bytes; consistency from the empty tree is refused).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeSource = Callable[[int, int], bytes]
"""``node(height, index)``: hash of the complete subtree over leaves [index·2^h, (index+1)·2^h)."""


class ProofError(ValueError):
    """A proof or a hash that does not verify, or a request for an impossible proof."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_root(node: NodeSource, start: int, size: int) -> bytes:
    """MTH(D[start:start+size]) for a range that begins at a multiple of its split point."""
    if size == 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0:
        height = size.bit_length() - 1
        return node(height, start >> height)
    k = _split(size)
    return node_hash(subtree_root(node, start, k), subtree_root(node, start + k, size - k))


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (used by tests and the audit)."""
    return subtree_root(ListNodes(leaves), 0, len(leaves))


class ListNodes:
    """Complete-subtree hashes of an in-memory list of leaf hashes, computed on demand."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]

    def __call__(self, height: int, index: int) -> bytes:
        while len(self.levels) <= height:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )
        return self.levels[height][index]


def inclusion_proof(node: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]), RFC 9162 §2.1.3.1, leaf's sibling first."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            proof.append(subtree_root(node, start + k, n - k))
            n = k
        else:
            proof.append(subtree_root(node, start, k))
            start, n, m = start + k, n - k, m - k
    proof.reverse()
    return proof


def consistency_proof(node: NodeSource, size1: int, size2: int) -> list[bytes]:
    """PROOF(size1, D[0:size2]) = SUBPROOF(size1, D[0:size2], true), RFC 9162 §2.1.4.1."""
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    proof: list[bytes] = []
    start, n, m, whole = 0, size2, size1, True
    while m != n:
        k = _split(n)
        if m <= k:
            proof.append(subtree_root(node, start + k, n - k))
            n = k
        else:
            proof.append(subtree_root(node, start, k))
            start, n, m, whole = start + k, n - k, m - k, False
    if not whole:
        proof.append(subtree_root(node, start, n))
    proof.reverse()
    return proof


def _check_hashes(**hashes: bytes) -> None:
    for name, value in hashes.items():
        if len(value) != HASH_SIZE:
            raise ProofError(f"{name} is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for ``leaf`` at ``index``, RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is beyond the tree size {size}")
    _check_hashes(leaf_hash=leaf)
    fn, sn, r = index, size - 1, leaf
    for i, p in enumerate(proof):
        _check_hashes(**{f"proof[{i}]": p})
        if sn == 0:
            raise ProofError(f"inclusion proof too long: {len(proof)} hashes")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"inclusion proof too short: {len(proof)} hashes")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless ``proof`` shows ``leaf`` at ``index`` in the tree ``root``."""
    _check_hashes(root=root)
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root hash")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise ProofError unless ``proof`` shows tree ``root1`` is a prefix of tree ``root2``.

    RFC 9162 §2.1.4.2. A proof from size 0 proves nothing and is refused (the vectors want an
    error); equal sizes need an empty proof and equal roots.
    """
    if size1 > size2:
        raise ProofError(f"size1 ({size1}) is greater than size2 ({size2})")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError("sizes are equal but the proof is not empty")
        if root1 != root2:
            raise ProofError("sizes are equal but the roots differ")
        return
    _check_hashes(root1=root1, root2=root2)
    if not proof:
        raise ProofError("empty consistency proof")
    for i, p in enumerate(proof):
        _check_hashes(**{f"proof[{i}]": p})
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a complete subtree: its root is the first node
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof too long: {len(proof)} hashes")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"consistency proof too short: {len(proof)} hashes")
    if fr != root1:
        raise ProofError("consistency proof does not lead to the first root")
    if sr != root2:
        raise ProofError("consistency proof does not lead to the second root")
