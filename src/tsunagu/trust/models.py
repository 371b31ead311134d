"""Tables of the trust context: issued certificates (with revocation) and time-stamp serials.

Only public material is stored here; private keys live encrypted in the key store (keys.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db import Base
from tsunagu.kernel import naive_utcnow


class IssuedCertificate(Base):
    """A certificate the platform CA issued: a node's TLS/signing certificate, the TSA's..."""

    __tablename__ = "trust_certificate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)  # lowercase hex
    kind: Mapped[str] = mapped_column(String(20))  # node | tsa | trust-list
    member_id: Mapped[str] = mapped_column(String(200), index=True)  # JP/GOV/{法人番号}/{sub}
    subject: Mapped[str] = mapped_column(String(500))  # RFC 4514
    node_url: Mapped[str] = mapped_column(String(2000), default="")
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER, hex
    certificate_pem: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(DateTime)
    not_after: Mapped[datetime] = mapped_column(DateTime)
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revocation_reason: Mapped[str | None] = mapped_column(String(40))


class TimestampSerial(Base):
    """One issued time-stamp token; the row id is its serialNumber (unique, RFC 3161 §2.4.2)."""

    __tablename__ = "trust_timestamp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash_algorithm: Mapped[str] = mapped_column(String(20))
    message_imprint: Mapped[str] = mapped_column(String(128))  # hex
    gen_time: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
