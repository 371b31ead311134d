"""A node as a log witness: C2SP tlog-witness ``add-checkpoint`` with Ed25519 cosignatures
(C2SP tlog-cosignature v1).

For each log it follows (by origin and verifier key) the witness keeps the latest checkpoint it
cosigned, checks each new one against it with a consistency proof, and only then cosigns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.db import is_postgres
from tsunagu.kernel import Settings, naive_utcnow

from . import services
from .errors import (
    BadNoteInput,
    InconsistentCheckpoint,
    SignatureRejected,
    UnknownLog,
    WitnessConflict,
)
from .formats import parse_add_checkpoint, parse_checkpoint_text
from .keys import load_or_create_key
from .merkle import EMPTY_ROOT, ProofError, verify_consistency
from .models import WitnessState
from .note import COSIGNATURE_V1, ED25519, NoteError, Signer, Verifier, check_key_name, open_note


@dataclass
class WitnessIdentity:
    signer: Signer
    logs: dict[str, Verifier] = field(default_factory=dict)  # origin -> log key


def witness_identity(settings: Settings) -> WitnessIdentity:
    """This node's witness key and the logs it follows (key file created on first use)."""
    name = settings.witness_name or (
        settings.effective_base_url.split("://", 1)[-1].rstrip("/") + "/witness"
    )
    key = load_or_create_key(
        settings.witness_key_file, settings.data_dir / "ledger" / "witness.key"
    )
    logs = services.parse_vkeys(settings.witness_logs, ED25519)
    return WitnessIdentity(Signer(check_key_name(name), key, COSIGNATURE_V1),
                           {v.name: v for v in logs})  # fmt: skip


def add_checkpoint(
    session: Session, witness: WitnessIdentity, body: str, now: int | None = None
) -> str:
    """Check and cosign a submitted checkpoint; returns the cosignature line(s).

    Status per tlog-witness: unknown origin 404, bad or missing log signature 403, old size
    above the checkpoint 400, old size not ours 409, bad proof or root 422.
    """
    try:
        request = parse_add_checkpoint(body)
        checkpoint = parse_checkpoint_text(
            request.checkpoint[: request.checkpoint.rfind("\n\n") + 1]
        )
    except NoteError as exc:
        raise BadNoteInput(str(exc)) from None
    log_key = witness.logs.get(checkpoint.origin)
    if log_key is None:
        raise UnknownLog(f"this witness does not follow {checkpoint.origin!r}")
    try:
        open_note(request.checkpoint, [log_key])
    except NoteError as exc:
        raise SignatureRejected(str(exc)) from None
    if request.old_size > checkpoint.size:
        raise BadNoteInput(f"old size {request.old_size} is above the checkpoint size")
    query = select(WitnessState).where(WitnessState.origin == checkpoint.origin)
    if is_postgres(session.get_bind().engine):  # check-and-update must be atomic
        query = query.with_for_update()
    state = session.scalars(query).first()
    latest = state.size if state else 0
    if request.old_size != latest:
        raise WitnessConflict(f"{latest}\n", size=latest)
    if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        raise InconsistentCheckpoint("a checkpoint of size 0 must have the empty tree's root")
    if request.old_size == 0:
        if request.proof:
            raise InconsistentCheckpoint("the proof must be empty when the old size is 0")
    elif state is not None:
        try:
            verify_consistency(state.size, checkpoint.size, request.proof, state.root,
                               checkpoint.root)  # fmt: skip
        except ProofError as exc:
            raise InconsistentCheckpoint(f"not consistent with size {state.size}: {exc}") from None
    if state is None:
        state = WitnessState(origin=checkpoint.origin)
        session.add(state)
    state.size, state.root = checkpoint.size, checkpoint.root
    state.checkpoint, state.updated_at = request.checkpoint, naive_utcnow()
    session.flush()
    return witness.signer.cosign_line(checkpoint.text(), int(now or time.time()))


def add_checkpoint_body(session: Session, log: services.LogIdentity, old_size: int) -> str:
    """The log side: an ``add-checkpoint`` body for our latest checkpoint from ``old_size``."""
    checkpoint = services.latest_checkpoint(session, log)
    proof: list[bytes] = []
    if 0 < old_size < checkpoint.size:
        proof = services.consistency(session, old_size, checkpoint.size)["proof"]
    from .note import b64

    lines = [f"old {old_size}", *(b64(p) for p in proof)]
    return "\n".join(lines) + "\n\n" + checkpoint.note
