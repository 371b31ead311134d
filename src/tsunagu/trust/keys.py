"""Private keys at rest: PKCS #8 PEM files encrypted with a passphrase (RFC 5958 §3, PBES2).

A key is never logged and never stored in the database. The passphrase comes from the
``TSUNAGU_TRUST_KEY_PASSPHRASE`` setting or the file named by ``TSUNAGU_TRUST_KEY_PASSPHRASE_FILE``
(a KMS-style key file mounted by the operator). Development mode generates a random passphrase
file next to the keys — and says loudly that this is not for production.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from .errors import KeyStoreError

log = logging.getLogger(__name__)

SigningKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

DEV_WARNING = (
    "TRUST DEVELOPMENT MODE: the platform CA, TSA and trust-list keys were generated on this "
    "machine with a passphrase stored next to them. NOT FOR PRODUCTION."
)


def generate_key(kind: str = "P-256") -> SigningKey:
    """A new signing key: ``P-256`` (ES256, the CA and TLS default) or ``Ed25519``."""
    if kind == "P-256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported key type {kind!r} (P-256 or Ed25519)")


def _write_private(path: Path, data: bytes) -> None:
    # Create with 0600 from the start, so the file is never readable by others even briefly.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


@dataclass
class KeyStore:
    """A directory of encrypted private keys and public certificates."""

    directory: Path
    passphrase: bytes = field(repr=False)

    @classmethod
    def open(
        cls,
        directory: Path,
        passphrase: str = "",
        passphrase_file: Path | None = None,
        *,
        dev_mode: bool = False,
    ) -> KeyStore:
        """Open ``directory``; the passphrase from the value, the file, or (dev mode) generated."""
        if passphrase:
            return cls(directory, passphrase.encode("utf-8"))
        if passphrase_file is not None:
            secret = passphrase_file.read_bytes().strip()
            if not secret:
                raise KeyStoreError(f"passphrase file {passphrase_file} is empty")
            return cls(directory, secret)
        if not dev_mode:
            raise KeyStoreError(
                "no key passphrase: set TSUNAGU_TRUST_KEY_PASSPHRASE or "
                "TSUNAGU_TRUST_KEY_PASSPHRASE_FILE (or enable TSUNAGU_TRUST_DEV_MODE)"
            )
        generated = directory / "dev-passphrase"
        if not generated.exists():
            log.warning(DEV_WARNING)
            _write_private(generated, secrets.token_urlsafe(32).encode("ascii"))
        return cls(directory, generated.read_bytes().strip())

    def path(self, name: str) -> Path:
        return self.directory / name

    def has(self, name: str) -> bool:
        return (self.directory / f"{name}.key.pem").exists()

    def save_key(self, name: str, key: SigningKey) -> None:
        """Write ``name``.key.pem, encrypted with the store's passphrase."""
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self.passphrase),
        )
        _write_private(self.directory / f"{name}.key.pem", pem)

    def load_key(self, name: str) -> SigningKey:
        """Read and decrypt ``name``.key.pem."""
        path = self.directory / f"{name}.key.pem"
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), self.passphrase)
        except FileNotFoundError:
            raise KeyStoreError(f"key {name!r} not found in {self.directory}") from None
        except (ValueError, TypeError):
            # Never echo the passphrase or key bytes; the name is enough to act on.
            raise KeyStoreError(f"key {name!r} cannot be decrypted with this passphrase") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise KeyStoreError(f"key {name!r} is not an EC or Ed25519 key")
        return key

    def save_file(self, name: str, data: bytes) -> None:
        """Write a public file (a certificate, a chain)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / name).write_bytes(data)

    def load_file(self, name: str) -> bytes:
        try:
            return (self.directory / name).read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"{name} not found in {self.directory}") from None
