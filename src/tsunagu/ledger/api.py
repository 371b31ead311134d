"""HTTP routes of the log: C2SP tlog-tiles (read-only), proofs as JSON and tlog-proof bundles,
cosignature submission, and the tlog-witness ``add-checkpoint`` endpoint of a witnessing node.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from tsunagu.http import get_session, rate_limit
from tsunagu.http.deps import new_session
from tsunagu.http.openapi import BUSY, PROBLEM
from tsunagu.kernel import ValidationProblem

from . import services, witness
from .errors import BadNoteInput, WitnessConflict
from .formats import parse_tile_path
from .models import LogCheckpoint
from .note import NoteError, b64

router = APIRouter(tags=["Transparency log (ログ)"])
SessionDep = Annotated[Session, Depends(get_session)]
ERRORS: dict[int | str, dict[str, Any]] = {400: PROBLEM, 404: PROBLEM, 422: PROBLEM}
# The routes that take a note read it themselves (_text_body), so FastAPI cannot describe it.
NOTE_BODY = {
    "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
}
TEXT = "text/plain; charset=utf-8"
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
MAX_SIZE = 1 << 62


def _log(request: Request) -> services.LogIdentity:
    """The log identity, built from settings on first use (creates the key file then)."""
    identity: services.LogIdentity | None = getattr(request.app.state, "ledger_identity", None)
    if identity is None:
        identity = services.log_identity(request.app.state.settings)
        request.app.state.ledger_identity = identity
    return identity


def _witness(request: Request) -> witness.WitnessIdentity:
    identity: witness.WitnessIdentity | None = getattr(request.app.state, "ledger_witness", None)
    if identity is None:
        identity = witness.witness_identity(request.app.state.settings)
        request.app.state.ledger_witness = identity
    return identity


async def _text_body(request: Request) -> str:
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise BadNoteInput("the body must be UTF-8 text") from None


@router.get(
    "/log/checkpoint",
    summary="The latest checkpoint (C2SP tlog-checkpoint)",
    response_class=PlainTextResponse,
    responses={503: BUSY},  # publishes a new checkpoint when the tree has grown
)
def checkpoint(request: Request, session: SessionDep) -> Response:
    """The signed checkpoint with the witnesses' cosignature lines."""
    body = services.cosigned(session, _signed_checkpoint(request, session))
    return PlainTextResponse(body, media_type=TEXT, headers={"Cache-Control": "max-age=2"})


def _signed_checkpoint(request: Request, session: Session) -> LogCheckpoint:
    """The current checkpoint; a new one, when due, signed in a session that takes SQLite's
    write lock at BEGIN. These are GETs, whose sessions read: signing in one upgraded its read
    transaction to a write, which SQLite refuses at once ("database is locked", a 503) when
    another connection committed in between — seen under load in the mesh's federation test."""
    identity = _log(request)
    row = services.current_checkpoint(session, identity)
    if row is None:
        session.rollback()  # a new snapshot afterwards, which sees the new checkpoint
        with new_session(request, write=True) as writer:
            row = services.latest_checkpoint(writer, identity)
            writer.commit()
    return row


@router.get(
    "/log/vkey",
    summary="The log's verifier key (C2SP signed-note vkey)",
    response_class=PlainTextResponse,
)
def vkey(request: Request) -> Response:
    return PlainTextResponse(_log(request).verifier.vkey + "\n", media_type=TEXT)


@router.get("/log/tile/{path:path}", summary="A tile or entry bundle (C2SP tlog-tiles)",
            responses=ERRORS, response_class=Response)  # fmt: skip
def tile(session: SessionDep, path: str) -> Response:
    """``/log/tile/<L>/<N>[.p/<W>]`` or ``/log/tile/entries/<N>[.p/<W>]``."""
    try:
        ref = parse_tile_path(path)
    except NoteError as exc:
        raise BadNoteInput(str(exc)) from None
    data = services.tile(session, ref)
    return Response(data, media_type="application/octet-stream", headers=IMMUTABLE)


def _proof_json(proof: dict[str, Any]) -> dict[str, Any]:
    return {k: (b64(v) if isinstance(v, bytes) else [b64(h) for h in v] if isinstance(v, list)
                else v) for k, v in proof.items()}  # fmt: skip


Size = Annotated[int, Query(ge=0, lt=MAX_SIZE)]


@router.get("/api/v1/log/inclusion", summary="Inclusion proof (RFC 9162 §2.1.3)",
            responses=ERRORS)  # fmt: skip
def inclusion(session: SessionDep, index: Size, size: Size | None = None) -> dict[str, Any]:
    """Proof that entry ``index`` is in the tree of ``size`` entries (default: the current)."""
    if size is None:
        size = services.tree_size(session)
    return _proof_json(services.inclusion(session, index, size))


@router.get("/api/v1/log/consistency", summary="Consistency proof (RFC 9162 §2.1.4)",
            responses=ERRORS)  # fmt: skip
def consistency(session: SessionDep, size1: Size, size2: Size) -> dict[str, Any]:
    """Proof that the tree of ``size1`` entries is a prefix of the tree of ``size2``."""
    return _proof_json(services.consistency(session, size1, size2))


@router.get("/api/v1/log/entries/{index}", summary="One log entry", responses=ERRORS)
def entry(session: SessionDep, index: int) -> dict[str, Any]:
    if not 0 <= index < MAX_SIZE:
        raise ValidationProblem("index out of range", field="index")
    data = services.entry(session, index)
    from .merkle import leaf_hash

    return {"index": index, "data": b64(data), "leaf_hash": b64(leaf_hash(data))}


@router.get(
    "/api/v1/log/entries/{index}/proof",
    responses=ERRORS | {503: BUSY},  # may publish a checkpoint, as /log/checkpoint does
    summary="Offline proof bundle (C2SP tlog-proof)",
    response_class=PlainTextResponse,
)
def proof_bundle(request: Request, session: SessionDep, index: int) -> Response:
    """A ``.tlog-proof`` for the entry against the latest checkpoint, with its cosignatures."""
    if not 0 <= index < MAX_SIZE:
        raise ValidationProblem("index out of range", field="index")
    _signed_checkpoint(request, session)
    body = services.proof_bundle(session, _log(request), index)
    session.commit()
    return PlainTextResponse(body, media_type=TEXT, headers={
        "Content-Disposition": f'attachment; filename="entry-{index}.tlog-proof"'})  # fmt: skip


@router.post(
    "/log/cosignatures",
    summary="Submit witness cosignatures on a checkpoint",
    responses=ERRORS | {403: PROBLEM},
    dependencies=[Depends(rate_limit("write"))],
    openapi_extra=NOTE_BODY,
)
async def cosignatures(request: Request, session: SessionDep) -> dict[str, Any]:
    """Body: our checkpoint with the witness's cosignature lines appended (text/plain)."""
    added = services.add_cosignatures(session, _log(request), await _text_body(request))
    session.commit()
    return {"added": added}


@router.get(
    "/witness/vkey",
    summary="This node's witness verifier key (type 0x04)",
    response_class=PlainTextResponse,
)
def witness_vkey(request: Request) -> Response:
    return PlainTextResponse(_witness(request).signer.verifier.vkey + "\n", media_type=TEXT)


@router.post(
    "/witness/add-checkpoint",
    summary="Cosign a checkpoint (C2SP tlog-witness)",
    responses=ERRORS | {403: PROBLEM, 409: {
        "description": "The witness's latest size differs (tlog-witness: the size, a newline)",
        "content": {"text/x.tlog.size": {"schema": {"type": "string"}}},
    }},
    dependencies=[Depends(rate_limit("write"))],
    response_class=PlainTextResponse,
    openapi_extra=NOTE_BODY,
)  # fmt: skip
async def add_checkpoint(request: Request, session: SessionDep) -> Response:
    """Verify consistency with the last checkpoint seen for the log and return a cosignature."""
    body = await _text_body(request)
    try:
        lines = witness.add_checkpoint(session, _witness(request), body)
    except WitnessConflict as exc:  # the spec fixes this answer's body and media type
        return Response(exc.detail, status_code=409, media_type="text/x.tlog.size")
    session.commit()
    return PlainTextResponse(lines, media_type=TEXT)
