"""Text formats of the log: C2SP tlog-checkpoint, tlog-tiles paths, tlog-proof bundles and the
tlog-witness ``add-checkpoint`` request body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .merkle import HASH_SIZE
from .note import NoteError, b64, b64decode, check_key_name, parse_note

TILE_WIDTH = 256
MAX_LEVEL = 63
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_LINES = 63
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def _decimal(value: str, what: str) -> int:
    if not _DECIMAL.fullmatch(value) or len(value) > 20:
        raise NoteError(f"{what} must be a decimal number without leading zeroes")
    return int(value)


def _hash(value: str, what: str) -> bytes:
    raw = b64decode(value, what)
    if len(raw) != HASH_SIZE:
        raise NoteError(f"{what} must be a {HASH_SIZE}-byte hash")
    return raw


@dataclass(frozen=True)
class Checkpoint:
    """The note text of a checkpoint: origin, tree size, root hash (C2SP tlog-checkpoint)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint_text(text: str) -> Checkpoint:
    """Parse a checkpoint's note text (the part before the blank line)."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint text must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has at least three lines: origin, size, root hash")
    if not lines[0] or any(not line for line in lines[3:]):
        raise NoteError("checkpoint lines must not be empty")
    size = _decimal(lines[1], "checkpoint tree size")
    return Checkpoint(lines[0], size, _hash(lines[2], "checkpoint root hash"), tuple(lines[3:]))


def encode_tile_index(n: int) -> str:
    """Tile index ``n`` as zero-padded 3-digit path elements: 1234067 → ``x001/x234/067``."""
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        parts.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(parts))


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` (level ``"entries"`` for entry bundles)."""
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_tile_index(index)}{suffix}"


_TILE = re.compile(r"(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?")


@dataclass(frozen=True)
class TileRef:
    level: int | None  # None: an entry bundle
    index: int
    width: int


def parse_tile_path(path: str) -> TileRef:
    """Parse ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]``, canonical encodings only."""
    match = _TILE.fullmatch(path)
    if not match:
        raise NoteError(f"malformed tile path {path!r}")
    level_s, index_s, width_s = match.groups()
    level = None if level_s == "entries" else int(level_s)
    if level is not None and level > MAX_LEVEL:
        raise NoteError(f"tile level must be 0..{MAX_LEVEL}")
    index = int(index_s.replace("x", "").replace("/", ""))
    if encode_tile_index(index) != index_s:  # e.g. x000/001: one resource, one URL
        raise NoteError(f"tile index {index_s!r} is not in canonical form")
    width = int(width_s) if width_s else TILE_WIDTH
    if width_s and width >= TILE_WIDTH:
        raise NoteError("a partial tile width is 1..255")
    return TileRef(level, index, width)


@dataclass(frozen=True)
class ProofBundle:
    """A C2SP tlog-proof: extra data, entry index, inclusion proof and the signed checkpoint."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str  # the signed note, verbatim
    extra: bytes | None = None

    def render(self) -> str:
        lines = [PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {b64(self.extra)}")
        lines.append(f"index {self.index}")
        lines += [b64(h) for h in self.proof]
        return "\n".join(lines) + "\n\n" + self.checkpoint


def parse_proof_bundle(data: str) -> ProofBundle:
    """Parse a ``.tlog-proof`` file; the checkpoint is kept verbatim for note verification."""
    head, sep, checkpoint = data.partition("\n\n")
    if not sep:
        raise NoteError("a tlog proof has an empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != PROOF_HEADER:
        raise NoteError(f"a tlog proof starts with {PROOF_HEADER!r}")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = b64decode(rest.pop(0)[len("extra ") :], "extra data")
    if not rest or not rest[0].startswith("index "):
        raise NoteError("a tlog proof needs an 'index N' line")
    index = _decimal(rest.pop(0)[len("index ") :], "index")
    if len(rest) > MAX_PROOF_LINES:
        raise NoteError("too many inclusion proof lines")
    proof = tuple(_hash(line, f"inclusion proof line {i + 1}") for i, line in enumerate(rest))
    parse_note(checkpoint)  # shape check now; signatures are checked by the caller's policy
    return ProofBundle(index, proof, checkpoint, extra)


@dataclass(frozen=True)
class AddCheckpoint:
    """A tlog-witness ``add-checkpoint`` body: old size, consistency proof, signed checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str


def parse_add_checkpoint(data: str) -> AddCheckpoint:
    head, sep, checkpoint = data.partition("\n\n")
    if not sep:
        raise NoteError("the request has an empty line before the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old "):
        raise NoteError("the request starts with an 'old <size>' line")
    old = _decimal(lines[0][4:], "old size")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise NoteError("more than 63 consistency proof lines")
    proof = tuple(_hash(x, f"consistency proof line {i + 1}") for i, x in enumerate(lines[1:]))
    return AddCheckpoint(old, proof, checkpoint)


def validate_origin(origin: str) -> str:
    """An origin is non-empty, without spaces or ``+`` (it is also the log's key name)."""
    return check_key_name(origin)
