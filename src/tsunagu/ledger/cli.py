"""``tsunagu log``: verify checkpoints and proofs offline, audit the stored tree, print keys.

``verify`` needs no database: only the files and the verifier keys. Every failure prints one
``error:`` line and exits with status 2.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tsunagu.kernel import Problem

from .formats import Checkpoint, parse_checkpoint_text, parse_proof_bundle
from .merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from .note import NoteError, Verifier, b64decode, open_note, parse_vkey

F = TypeVar("F", bound=Callable[..., Any])


def _one_line_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Problem as exc:
            click.echo(f"error: {exc.detail}", err=True)
        except (NoteError, ProofError) as exc:
            click.echo(f"error: {exc}", err=True)
        except OSError as exc:
            click.echo(f"error: cannot read {exc.filename}: {exc.strerror}", err=True)
        except (ValueError, KeyError, TypeError) as exc:
            click.echo(f"error: malformed input: {exc}", err=True)
        sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _vkey(value: str) -> Verifier:
    """A vkey given inline or as a file that holds one."""
    path = Path(value)
    if "+" not in value and path.exists():
        value = path.read_text(encoding="utf-8").strip()
    return parse_vkey(value)


def _open_checkpoint(
    note: str, log: Verifier, witnesses: list[Verifier], quorum: int
) -> tuple[Checkpoint, int]:
    """Verify the log signature and the cosignature quorum; returns the checkpoint."""
    open_note(note, [log])
    text = note[: note.rfind("\n\n") + 1]
    checkpoint = parse_checkpoint_text(text)
    if checkpoint.origin != log.name:
        raise NoteError(f"origin {checkpoint.origin!r} is not the log key's name {log.name!r}")
    cosigned = 0
    if witnesses:
        try:
            _, valid = open_note(note, witnesses)
            cosigned = len(valid)
        except NoteError as exc:
            if "no signature from a known key" not in str(exc):
                raise
    if cosigned < quorum:
        raise NoteError(f"{cosigned} valid witness cosignature(s), policy needs {quorum}")
    return checkpoint, cosigned


def _read(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")


def _hashes(values: list[str], what: str) -> list[bytes]:
    return [b64decode(v, f"{what}[{i}]") for i, v in enumerate(values)]


@click.group("log")
def log() -> None:
    """Transparency log: offline verification, audit, keys and proof bundles."""


@log.command("verify")
@click.option("--vkey", "vkey_value", required=True, help="Log verifier key (vkey or file).")
@click.option("--checkpoint", "checkpoint_file", help="Signed checkpoint file to verify.")
@click.option("--bundle", "bundle_file", help="C2SP tlog-proof file (.tlog-proof) to verify.")
@click.option("--entry", "entry_file", help="With --bundle: the entry must equal this file.")
@click.option(
    "--inclusion",
    "inclusion_file",
    help="Inclusion proof JSON (from /api/v1/log/inclusion) against --checkpoint.",
)
@click.option("--old", "old_file", help="Older checkpoint: check --checkpoint is consistent.")
@click.option("--consistency", "consistency_file",
              help="Consistency proof JSON (from /api/v1/log/consistency) for --old.")  # fmt: skip
@click.option("--witness", "witness_keys", multiple=True, help="Witness vkey (repeatable).")
@click.option("--min-witnesses", default=0, show_default=True,
              help="Valid cosignatures required from --witness keys.")  # fmt: skip
@_one_line_errors
def verify(
    vkey_value: str, checkpoint_file: str | None, bundle_file: str | None,
    entry_file: str | None, inclusion_file: str | None, old_file: str | None,
    consistency_file: str | None, witness_keys: tuple[str, ...], min_witnesses: int,
) -> None:  # fmt: skip
    """Check a checkpoint's signature, an inclusion proof or bundle, or consistency."""
    log_key = _vkey(vkey_value)
    witnesses = [_vkey(w) for w in witness_keys]
    if not (checkpoint_file or bundle_file):
        raise click.UsageError("give --checkpoint and/or --bundle")
    if bundle_file:
        bundle = parse_proof_bundle(_read(bundle_file))
        cp, cosigned = _open_checkpoint(bundle.checkpoint, log_key, witnesses, min_witnesses)
        if bundle.extra is None:
            raise NoteError("the bundle has no entry (extra line); cannot compute the leaf")
        if entry_file and Path(entry_file).read_bytes() != bundle.extra:
            raise NoteError("the bundle's entry is not the given --entry file")
        verify_inclusion(bundle.index, cp.size, leaf_hash(bundle.extra), bundle.proof, cp.root)
        click.echo(f"ok: entry {bundle.index} is in {cp.origin} at size {cp.size} "
                   f"({cosigned} witness cosignature(s))")  # fmt: skip
    if checkpoint_file:
        cp, cosigned = _open_checkpoint(_read(checkpoint_file), log_key, witnesses, min_witnesses)
        click.echo(f"ok: checkpoint of {cp.origin} at size {cp.size} is signed by the log "
                   f"({cosigned} witness cosignature(s))")  # fmt: skip
        if inclusion_file:
            proof = json.loads(_read(inclusion_file))
            if int(proof["size"]) != cp.size:
                raise NoteError(f"the proof is for size {proof['size']}, the checkpoint {cp.size}")
            leaf = b64decode(proof["leaf_hash"], "leaf_hash")
            verify_inclusion(int(proof["index"]), cp.size, leaf,
                             _hashes(proof["proof"], "proof"), cp.root)  # fmt: skip
            click.echo(f"ok: entry {proof['index']} is included at size {cp.size}")
        if old_file:
            old, _ = _open_checkpoint(_read(old_file), log_key, witnesses, 0)
            hashes: list[bytes] = []
            if consistency_file:
                proof = json.loads(_read(consistency_file))
                if (int(proof["size1"]), int(proof["size2"])) != (old.size, cp.size):
                    raise NoteError("the consistency proof is for other sizes")
                hashes = _hashes(proof["proof"], "proof")
            verify_consistency(old.size, cp.size, hashes, old.root, cp.root)
            click.echo(f"ok: size {old.size} is consistent with size {cp.size}")
    elif inclusion_file or old_file:
        raise click.UsageError("--inclusion and --old need --checkpoint")


def _engine_session() -> Any:
    from tsunagu.db import make_engine, make_sessionmaker, migrate
    from tsunagu.kernel import load_settings

    settings = load_settings()
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    return settings, engine, make_sessionmaker(engine)


@log.command("audit")
@_one_line_errors
def audit_command() -> None:
    """Recompute the tree from the stored entries; exit 1 on any mismatch."""
    from . import services
    from .audit import audit

    settings, engine, sessions = _engine_session()
    try:
        with sessions() as session:
            identity = services.log_identity(settings)
            report = audit(session, identity.verifier)
    finally:
        engine.dispose()
    for finding in report.findings:
        click.echo(f"FAIL {finding}")
    click.echo(
        f"{'ok' if report.ok else 'FAILED'}: {report.entries} entries, tree size "
        f"{report.size}, {report.checkpoints} checkpoints, {report.records} records"
    )
    if not report.ok:
        sys.exit(1)


@log.command("vkey")
@_one_line_errors
def vkey_command() -> None:
    """Print the log's verifier key (creates the key on first use)."""
    from tsunagu.kernel import load_settings

    from . import services

    click.echo(services.log_identity(load_settings()).verifier.vkey)


@log.command("proof")
@click.argument("index", type=int)
@_one_line_errors
def proof_command(index: int) -> None:
    """Print a C2SP tlog-proof bundle for entry INDEX against the latest checkpoint."""
    from . import services

    settings, engine, sessions = _engine_session()
    try:
        with sessions() as session:
            body = services.proof_bundle(session, services.log_identity(settings), index)
            session.commit()
    finally:
        engine.dispose()
    click.echo(body, nl=False)
