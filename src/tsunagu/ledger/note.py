"""Signed notes with Ed25519 keys, C2SP signed-note v1.0.0, and Ed25519 cosignatures, C2SP
tlog-cosignature v1 (signature type 0x04, ``cosignature/v1`` message).

A note is ``text`` (ending in a newline), a blank line, then lines ``— <name> base64(keyID||sig)``.
Verifiers ignore signatures from keys they do not know, reject the note if a known key's signature
fails, and reject it if no known key signed it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
MAX_SIGNATURES = 64  # the spec asks for at least 16
MAX_NOTE_BYTES = 1 << 20
DASH = "\u2014"


class NoteError(ValueError):
    """A malformed note or verifier key, or a signature that does not verify."""


def b64decode(value: str, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4), with an error that names the field."""
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError(f"{what} is not valid base64") from None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_key_name(name: str) -> str:
    """Key names are non-empty, without Unicode spaces or ``+``."""
    if not name or "+" in name or any(ch.isspace() for ch in name) or not name.isprintable():
        raise NoteError(f"invalid key name {name!r}: non-empty, no spaces, no '+'")
    return name


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, sig_type: int, public: bytes) -> bytes:
    """SHA-256(key name || 0x0A || signature type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """A known public key: its name, type (0x01 note, 0x04 cosignature) and key ID."""

    name: str
    sig_type: int
    public: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.sig_type, raw_public(self.public))

    @property
    def vkey(self) -> str:
        """``<name>+hex(key ID)+base64(type || public key)``."""
        material = bytes([self.sig_type]) + raw_public(self.public)
        return f"{self.name}+{self.key_id.hex()}+{b64(material)}"


def parse_vkey(vkey: str) -> Verifier:
    """A verifier key in signed-note format (Ed25519 note or cosignature keys only)."""
    parts = vkey.strip().split("+", 2)  # base64 may itself contain "+"
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<hex key ID>+<base64 key>")
    name, hex_id, material_b64 = parts
    check_key_name(name)
    material = b64decode(material_b64, "verifier key")
    if len(hex_id) != 8 or not all(c in "0123456789abcdef" for c in hex_id):
        raise NoteError("verifier key ID must be 8 lowercase hex digits")
    if len(material) != 33 or material[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError("only Ed25519 verifier keys (type 0x01 or 0x04) are supported")
    verifier = Verifier(name, material[0], Ed25519PublicKey.from_public_bytes(material[1:]))
    if verifier.key_id.hex() != hex_id:
        raise NoteError(f"verifier key ID {hex_id} does not match the key")
    return verifier


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key under a name, signing notes (0x01) or cosignatures (0x04)."""

    name: str
    private: Ed25519PrivateKey
    sig_type: int = ED25519

    def __repr__(self) -> str:  # never show key material
        return f"Signer({self.name!r}, type={self.sig_type:#04x})"

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.sig_type, self.private.public_key())

    def sign_line(self, text: str) -> str:
        """The signature line for a note ``text`` (type 0x01)."""
        signature = self.private.sign(text.encode("utf-8"))
        return f"{DASH} {self.name} {b64(self.verifier.key_id + signature)}\n"

    def cosign_line(self, text: str, timestamp: int) -> str:
        """A tlog-cosignature v1 line over checkpoint ``text`` at POSIX ``timestamp``."""
        signature = self.private.sign(cosigned_message(text, timestamp))
        body = self.verifier.key_id + struct.pack(">Q", timestamp) + signature
        return f"{DASH} {self.name} {b64(body)}\n"


def cosigned_message(text: str, timestamp: int) -> bytes:
    """``cosignature/v1\\ntime <t>\\n`` followed by the checkpoint body."""
    if not 0 <= timestamp < 1 << 63:
        raise NoteError("cosignature timestamp out of range")
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode("utf-8")


@dataclass(frozen=True)
class Signature:
    """One signature line of a note."""

    name: str
    key_id: bytes
    signature: bytes  # after the key ID

    @property
    def line(self) -> str:
        return f"{DASH} {self.name} {b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line for s in self.signatures)


def parse_note(data: bytes | str) -> Note:
    """Split a signed note into text and signature lines (no verification)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_NOTE_BYTES:
        raise NoteError("note too large")
    try:
        message = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("a note must be UTF-8") from None
    if any(ord(ch) < 0x20 and ch != "\n" for ch in message):
        raise NoteError("a note must not contain control characters other than newline")
    split = message.rfind("\n\n")
    if split < 0 or not message.endswith("\n"):
        raise NoteError("a note is text, a blank line and signature lines, each ending in newline")
    text, block = message[: split + 1], message[split + 2 :]
    lines = block[:-1].split("\n") if block else []
    if not lines:
        raise NoteError("the note has no signatures")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature(line) for line in lines))


def _parse_signature(line: str) -> Signature:
    prefix = DASH + " "
    if not line.startswith(prefix):
        raise NoteError("a signature line starts with an em dash and a space")
    fields = line[len(prefix) :].split(" ")
    if len(fields) != 2:
        raise NoteError("a signature line is '— <key name> <base64 signature>'")
    name, encoded = check_key_name(fields[0]), fields[1]
    raw = b64decode(encoded, f"signature of {name}")
    if len(raw) < 5:
        raise NoteError(f"signature of {name} is too short")
    return Signature(name, raw[:4], raw[4:])


def _known(note: Note, verifiers: list[Verifier]) -> list[tuple[Signature, Verifier]]:
    by_key = {(v.name, v.key_id): v for v in verifiers}
    return [
        (s, by_key[(s.name, s.key_id)]) for s in note.signatures if (s.name, s.key_id) in by_key
    ]


def open_note(data: bytes | str, verifiers: list[Verifier]) -> tuple[Note, list[Verifier]]:
    """Verify a note: every signature by a known key must verify, and at least one must exist.

    Returns the note and the verifiers whose signatures verified. Cosignature keys (0x04) are
    checked over the tlog-cosignature message and must carry a 64-bit timestamp.
    """
    note = parse_note(data)
    matched = _known(note, verifiers)
    if not matched:
        raise NoteError("no signature from a known key")
    for signature, verifier in matched:
        _verify_one(note.text, signature, verifier)
    return note, [v for _, v in matched]


def _verify_one(text: str, signature: Signature, verifier: Verifier) -> None:
    sig = signature.signature
    if verifier.sig_type == COSIGNATURE_V1:
        if len(sig) != 8 + 64:
            raise NoteError(f"cosignature of {verifier.name} has the wrong length")
        (timestamp,) = struct.unpack(">Q", sig[:8])
        message, sig = cosigned_message(text, timestamp), sig[8:]
    else:
        message = text.encode("utf-8")
    try:
        verifier.public.verify(sig, message)
    except InvalidSignature:
        raise NoteError(f"signature of {verifier.name} does not verify") from None


def cosignature_time(signature: Signature) -> int:
    """The timestamp of a tlog-cosignature v1 signature."""
    if len(signature.signature) != 72:
        raise NoteError("not an Ed25519 cosignature")
    return int(struct.unpack(">Q", signature.signature[:8])[0])
