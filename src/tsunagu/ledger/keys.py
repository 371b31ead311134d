"""The log's and the witness's Ed25519 keys: from a configured PKCS#8 PEM file, or generated on
first start into the data directory (mode 0600). Key material is never logged or printed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

log = logging.getLogger(__name__)


def load_or_create_key(configured: Path | None, default: Path) -> Ed25519PrivateKey:
    """The Ed25519 key in ``configured``; else in ``default``, created there if missing."""
    path = configured or default
    if configured is None and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        # O_EXCL: two processes starting together must not overwrite each other's new key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            log.warning("generated a new Ed25519 key at %s", path)
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key
