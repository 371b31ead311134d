"""Use cases of the transparency log: append, checkpoints, proofs, tiles, cosignatures.

The append path (:func:`append_entries`, :func:`append_access_records`) sequences a whole batch
in the caller's transaction; callers acknowledge only after their commit, which is what makes an
entry durable. :class:`tsunagu.ledger.sequencer.Sequencer` batches concurrent callers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tsunagu.kernel import NotFound, Settings, naive_utcnow

from . import tiles
from .errors import BadNoteInput, BadProofRequest, SignatureRejected, TileNotFound
from .formats import (
    TILE_WIDTH,
    Checkpoint,
    ProofBundle,
    TileRef,
    parse_checkpoint_text,
    validate_origin,
)
from .keys import load_or_create_key
from .merkle import consistency_proof, inclusion_proof, subtree_root
from .models import AccessRecord, LogCheckpoint, LogCosignature, LogEntry
from .note import COSIGNATURE_V1, ED25519, NoteError, Signer, Verifier, parse_note, parse_vkey
from .note import open_note as _open_note
from .records import SALT_BYTES, AccessRecordIn, canonical, commitment_entry


@dataclass
class LogIdentity:
    """The log's origin, signing key and policy (built from settings by the composition root)."""

    origin: str
    signer: Signer
    checkpoint_interval: float = 0.0
    witnesses: list[Verifier] = field(default_factory=list)

    @property
    def verifier(self) -> Verifier:
        return self.signer.verifier


def origin_from_settings(settings: Settings) -> str:
    """``TSUNAGU_LOG_ORIGIN``, else the scheme-less URL prefix of the log (C2SP tlog-tiles)."""
    if settings.log_origin:
        return validate_origin(settings.log_origin)
    base = settings.effective_base_url.split("://", 1)[-1].rstrip("/")
    return validate_origin(f"{base}/log")


def parse_vkeys(text: str, sig_type: int) -> list[Verifier]:
    """Whitespace- or comma-separated verifier keys of one signature type."""
    keys = [parse_vkey(v) for v in text.replace(",", " ").split()]
    for key in keys:
        if key.sig_type != sig_type:
            raise ValueError(f"verifier key {key.name} has type {key.sig_type:#04x}, "
                             f"expected {sig_type:#04x}")  # fmt: skip
    return keys


def log_identity(settings: Settings) -> LogIdentity:
    """The log identity of this process (creates the key file on first use)."""
    origin = origin_from_settings(settings)
    key = load_or_create_key(settings.log_key_file, settings.data_dir / "ledger" / "log.key")
    return LogIdentity(
        origin=origin,
        signer=Signer(origin, key, ED25519),
        checkpoint_interval=settings.log_checkpoint_interval,
        witnesses=parse_vkeys(settings.log_witnesses, COSIGNATURE_V1),
    )


def append_entries(session: Session, entries: Sequence[bytes]) -> int:
    """Append raw entries; returns the index of the first. Durable once the caller commits."""
    first, _, _ = tiles.append_batch(session, entries, naive_utcnow())
    return first


def append_access_records(session: Session, records: Sequence[AccessRecordIn]) -> list[int]:
    """Append access records as salted commitments; returns their log indexes."""
    opened = []
    for record in records:
        salt = os.urandom(SALT_BYTES)
        body = canonical(record)
        opened.append((record, salt, body, commitment_entry(salt, body)))
    first = append_entries(session, [entry for *_, entry in opened])
    rows = [
        {"idx": first + i, "salt": salt, "record": body, "provider_id": record.provider.id,
         "pseudonym": record.pseudonym, "accessed_at": record.accessed_at,
         "hidden_until": record.hidden_until}
        for i, (record, salt, body, _) in enumerate(opened)
    ]  # fmt: skip
    if rows:
        session.execute(insert(AccessRecord), rows)
    return [first + i for i in range(len(rows))]


def append_access_record(session: Session, record: AccessRecordIn) -> int:
    """Append one access record (the mesh calls this); commit to make it durable."""
    return append_access_records(session, [record])[0]


def records_for_person(
    session: Session, provider_id: str, pseudonym: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """A person's access records as the person may see them: hidden ones only after the date."""
    import json

    now = now or naive_utcnow()
    rows = session.scalars(
        select(AccessRecord)
        .where(AccessRecord.provider_id == provider_id, AccessRecord.pseudonym == pseudonym)
        .order_by(AccessRecord.idx)
    ).all()
    return [
        {"index": r.idx, "record": json.loads(r.record), "salt": r.salt.hex()}
        for r in rows
        if r.hidden_until is None or r.hidden_until <= now
    ]


def tree_size(session: Session) -> int:
    return tiles.tree_head(session)[0]


def root_at(session: Session, size: int, nodes: tiles.TileNodes | None = None) -> bytes:
    """The root hash of the tree when it had ``size`` entries."""
    current = tree_size(session)
    if not 0 <= size <= current:
        raise BadProofRequest(f"size {size} is beyond the tree (size {current})")
    return subtree_root(nodes or tiles.TileNodes(session), 0, size)


def inclusion(session: Session, index: int, size: int) -> dict[str, Any]:
    """An inclusion proof (RFC 9162 §2.1.3) for entry ``index`` in the tree of ``size``."""
    if not 0 <= index < size:
        raise BadProofRequest(f"index {index} is not in a tree of size {size}")
    nodes = tiles.TileNodes(session)  # one tile cache for the root and the path
    nodes.prefetch(tiles.proof_tiles(size, index))
    root = root_at(session, size, nodes)
    return {"index": index, "size": size, "leaf_hash": nodes(0, index),
            "root_hash": root, "proof": inclusion_proof(nodes, index, size)}  # fmt: skip


def consistency(session: Session, size1: int, size2: int) -> dict[str, Any]:
    """A consistency proof (RFC 9162 §2.1.4) from tree ``size1`` to tree ``size2``."""
    if not 0 < size1 <= size2:
        raise BadProofRequest(f"no consistency proof from size {size1} to size {size2}")
    nodes = tiles.TileNodes(session)
    nodes.prefetch(tiles.proof_tiles(size2, size1 - 1) + tiles.proof_tiles(size1))
    root2 = root_at(session, size2, nodes)
    return {"size1": size1, "size2": size2, "root1": root_at(session, size1, nodes), "root2": root2,
            "proof": consistency_proof(nodes, size1, size2)}  # fmt: skip


def entry(session: Session, index: int) -> bytes:
    data = session.scalar(select(LogEntry.data).where(LogEntry.idx == index))
    if data is None:
        raise NotFound(f"no log entry {index}")
    return bytes(data)


def tile(session: Session, ref: TileRef) -> bytes:
    """The bytes of a tile or entry bundle, or TileNotFound when the tree is not that big."""
    size = tree_size(session)
    level = 0 if ref.level is None else ref.level
    span = TILE_WIDTH**level  # entries per hash at this level
    end = (ref.index * TILE_WIDTH + ref.width) * span
    if ref.index >= 1 << 62 or end > size:
        raise TileNotFound(f"the tree has {size} entries; {ref} is beyond it")
    data = (
        tiles.entry_bundle(session, ref.index, ref.width)
        if ref.level is None
        else tiles.tile_bytes(session, level, ref.index, ref.width)
    )
    if data is None:
        raise TileNotFound(f"{ref} is not stored")
    return data


def current_checkpoint(session: Session, identity: LogIdentity) -> LogCheckpoint | None:
    """The newest signed checkpoint if it is still current (the tree has not grown since, or
    it is younger than the checkpoint interval); None when a new one is due. Reads only."""
    last = session.scalars(
        select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)
    ).first()
    if last is None:
        return None
    interval = timedelta(seconds=identity.checkpoint_interval)
    if naive_utcnow() - last.created_at < interval or last.size == tiles.tree_head(session)[0]:
        return last
    return None


def latest_checkpoint(session: Session, identity: LogIdentity) -> LogCheckpoint:
    """The newest signed checkpoint, signing a new one if the tree grew and the last is old.

    It may write: on SQLite give it a session that takes the write lock at BEGIN (a deferred
    transaction that reads, then writes, fails at once when another connection commits in
    between); :func:`current_checkpoint` first, on a read session, spares that lock."""
    now = naive_utcnow()
    last = current_checkpoint(session, identity)
    if last is not None:
        return last
    size, root = tiles.tree_head(session)
    text = Checkpoint(identity.origin, size, root).text()
    note = text + "\n" + identity.signer.sign_line(text)
    row = LogCheckpoint(size=size, root=root, note=note, created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another request signed this size first; serve theirs
        return session.scalars(select(LogCheckpoint).where(LogCheckpoint.size == size)).one()
    return row


def cosigned(session: Session, checkpoint: LogCheckpoint) -> str:
    """The checkpoint note with every accepted witness cosignature line appended."""
    lines = session.scalars(
        select(LogCosignature.line)
        .where(LogCosignature.checkpoint_size == checkpoint.size)
        .order_by(LogCosignature.key_name, LogCosignature.key_id)
    ).all()
    return checkpoint.note + "".join(lines)


def proof_bundle(session: Session, identity: LogIdentity, index: int) -> str:
    """A C2SP tlog-proof for entry ``index`` against the latest (cosigned) checkpoint."""
    checkpoint = latest_checkpoint(session, identity)
    if index >= checkpoint.size:
        raise BadProofRequest(f"entry {index} is not in the latest checkpoint "
                              f"(size {checkpoint.size}); try again shortly")  # fmt: skip
    nodes = tiles.TileNodes(session)
    proof = inclusion_proof(nodes, index, checkpoint.size)
    bundle = ProofBundle(index, tuple(proof), cosigned(session, checkpoint), entry(session, index))
    return bundle.render()


def add_cosignatures(session: Session, identity: LogIdentity, body: str) -> int:
    """Store the witness cosignatures on one of our checkpoints; returns how many were new.

    The body is the cosigned checkpoint (our note plus witness lines). Unknown keys are ignored;
    a known witness whose cosignature fails rejects the whole submission.
    """
    try:
        note = parse_note(body)
        _open_note(body, [identity.verifier])
    except NoteError as exc:
        raise SignatureRejected(f"not a checkpoint of this log: {exc}") from None
    ours = session.get(LogCheckpoint, parse_checkpoint_text(note.text).size)
    if ours is None or not ours.note.startswith(note.text + "\n"):
        raise BadNoteInput("this log never published that checkpoint")
    try:
        _, valid = _open_note(body, identity.witnesses)
    except NoteError as exc:
        raise SignatureRejected(f"cosignature rejected: {exc}") from None
    known = {(v.name, v.key_id) for v in valid}
    added = 0
    for signature in note.signatures:
        if (signature.name, signature.key_id) not in known:
            continue
        session.execute(
            delete(LogCosignature).where(
                LogCosignature.checkpoint_size == ours.size,
                LogCosignature.key_name == signature.name,
                LogCosignature.key_id == signature.key_id.hex(),
            )
        )
        session.add(LogCosignature(checkpoint_size=ours.size, key_name=signature.name,
                                   key_id=signature.key_id.hex(), line=signature.line,
                                   signed_at=naive_utcnow()))  # fmt: skip
        added += 1
    session.flush()
    return added
