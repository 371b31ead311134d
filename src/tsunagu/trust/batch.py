"""Batch timestamping: one RFC 3161 token over the Merkle root of many record hashes.

The tree is RFC 9162 §2.1.1 (leaf hash SHA-256(0x00 || leaf), node SHA-256(0x01 || left ||
right), split at the largest power of two below n) and inclusion proofs are RFC 9162 §2.1.3, with
the verification algorithm of §2.1.3.2. A record proves it was timestamped with its index, the
batch size, its audit path and the batch token — offline, with no database. This is the small part
of RFC 9162 we need; the transparency log (tsunagu.ledger) has its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import TrustError
from .timestamp import Timestamper


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (RFC 9162 §2.1.1's k)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over the leaf data (not yet hashed)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    return _root([leaf_hash(x) for x in leaves])


def _root(hashes: Sequence[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(_root(hashes[:k]), _root(hashes[k:]))


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) for leaf ``index`` (RFC 9162 §2.1.3.1)."""
    if not 0 <= index < len(leaves):
        raise TrustError(f"index {index} is outside a batch of {len(leaves)}")
    return _path(index, [leaf_hash(x) for x in leaves])


def _path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if m < k:
        return [*_path(m, hashes[:k]), _root(hashes[k:])]
    return [*_path(m - k, hashes[k:]), _root(hashes[:k])]


def root_from_path(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof implies (RFC 9162 §2.1.3.2); raises on a malformed proof."""
    if not 0 <= index < size:
        raise TrustError(f"index {index} is outside a batch of {size}")
    if any(len(p) != 32 for p in path):
        raise TrustError("every proof hash is 32 bytes")
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in path:
        if sn == 0:
            raise TrustError("the proof is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise TrustError("the proof is shorter than the tree needs")
    return r


@dataclass(frozen=True)
class BatchProof:
    """What one record needs to prove it is in a timestamped batch."""

    index: int
    size: int
    path: tuple[bytes, ...]
    token: bytes  # DER TimeStampResp over the batch root

    def to_json(self) -> dict[str, object]:
        import base64

        return {
            "index": self.index,
            "size": self.size,
            "path": [base64.b64encode(p).decode("ascii") for p in self.path],
            "token": base64.b64encode(self.token).decode("ascii"),
        }


@dataclass(frozen=True)
class Batch:
    """A timestamped batch: its Merkle root, the token, and a proof per record."""

    root: bytes
    token: bytes
    proofs: tuple[BatchProof, ...]


def timestamp_batch(records: Sequence[bytes], timestamper: Timestamper) -> Batch:
    """Get one token over the root of ``records`` and a proof for each of them.

    The token covers the 32 root bytes (the TSA hashes them again with SHA-256).
    """
    if not records:
        raise TrustError("a batch needs at least one record")
    levels = _levels([leaf_hash(x) for x in records])
    root = levels[-1][0]
    token = timestamper.timestamp(root)
    size = len(records)
    proofs = tuple(BatchProof(i, size, _level_path(i, levels), token) for i in range(size))
    return Batch(root, token, proofs)


def _levels(hashes: list[bytes]) -> list[list[bytes]]:
    """The tree level by level, from the leaf hashes up to the root.

    Pairing each level left to right and carrying an odd last node up unchanged builds the
    same tree as RFC 9162's split at the largest power of two (its left subtrees are always
    complete), in n hashes and without recursion: a node seals batches of hundreds of records
    a second, and every record needs its audit path.
    """
    levels = [hashes]
    while len(level := levels[-1]) > 1:
        up = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            up.append(level[-1])
        levels.append(up)
    return levels


def _level_path(m: int, levels: list[list[bytes]]) -> tuple[bytes, ...]:
    """PATH(m, D[n]) read off :func:`_levels`: each level's sibling, none where ``m`` is a
    carried last node (RFC 9162 §2.1.3.1 lists the same hashes, leaf side first)."""
    path = []
    for level in levels[:-1]:
        sibling = m ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        m >>= 1
    return tuple(path)
