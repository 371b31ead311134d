"""Errors of the transparency log, rendered as problem+json (docs/problems.md)."""

from __future__ import annotations

from tsunagu.kernel import Problem


class LogProblem(Problem):
    """Base of the log's errors."""

    slug = "log-error"
    title = "Transparency log error"
    status = 400


class TileNotFound(LogProblem):
    slug = "log-tile-not-found"
    title = "No such tile in the log"
    status = 404


class BadProofRequest(LogProblem):
    slug = "log-bad-proof-request"
    title = "The proof cannot exist for these sizes"
    status = 422


class BadNoteInput(LogProblem):
    slug = "log-bad-note"
    title = "Malformed checkpoint, note or proof"
    status = 400


class SignatureRejected(LogProblem):
    slug = "log-signature-rejected"
    title = "A signature does not verify or no trusted key signed"
    status = 403


class UnknownLog(LogProblem):
    slug = "log-unknown-origin"
    title = "This witness does not follow that log"
    status = 404


class WitnessConflict(LogProblem):
    slug = "log-witness-conflict"
    title = "The old size is not the witness's latest size"
    status = 409


class InconsistentCheckpoint(LogProblem):
    slug = "log-inconsistent"
    title = "The checkpoint is not consistent with what was seen before"
    status = 422
