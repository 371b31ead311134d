"""Tables of the transparency log: entries, Merkle tiles, tree head, checkpoints, cosignatures,
the access records behind entries, and a witness's view of the logs it cosigns.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db import Base

# SQLite makes INTEGER PRIMARY KEY the rowid (fast appends); BIGINT elsewhere for > 2^31 entries.
Index64 = BigInteger().with_variant(Integer(), "sqlite")


class LogEntry(Base):
    """One leaf of the log: the exact bytes that were hashed (RFC 9162 leaf input)."""

    __tablename__ = "ledger_entry"

    idx: Mapped[int] = mapped_column(Index64, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class LogTile(Base):
    """A C2SP tile (level, index) with the hashes inside it.

    ``nodes`` holds, for in-tile heights 0..7, the complete-subtree hashes present at ``width``
    (``width >> h`` hashes of 32 bytes each, height 0 first). Height 0 is the served tile; the
    rest makes any proof a few row reads. A tile's root is the next level's height-0 hash.
    """

    __tablename__ = "ledger_tile"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    tile_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    nodes: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class LogTree(Base):
    """The current tree head (one row); appends lock it so one batch sequences at a time."""

    __tablename__ = "ledger_tree"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    root: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class LogCheckpoint(Base):
    """A checkpoint the log signed (C2SP tlog-checkpoint), verbatim as served."""

    __tablename__ = "ledger_checkpoint"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class LogCosignature(Base):
    """A witness's cosignature line on one of our checkpoints (C2SP tlog-cosignature)."""

    __tablename__ = "ledger_cosignature"
    __table_args__ = (UniqueConstraint("checkpoint_size", "key_name", "key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_size: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ledger_checkpoint.size", ondelete="CASCADE"), nullable=False
    )
    key_name: Mapped[str] = mapped_column(String(255), nullable=False)
    key_id: Mapped[str] = mapped_column(String(8), nullable=False)
    line: Mapped[str] = mapped_column(Text, nullable=False)
    signed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class AccessRecord(Base):
    """A personal-data access record (番号法23条 style) behind a log entry.

    The public entry is only a salted commitment to ``record``; the record itself stays here,
    so the person (and auditors) can open it while the log reveals nothing about them.
    """

    __tablename__ = "ledger_access_record"
    __table_args__ = (Index("ix_ledger_access_record_person", "provider_id", "pseudonym"),)

    idx: Mapped[int] = mapped_column(
        Index64, ForeignKey("ledger_entry.idx"), primary_key=True, autoincrement=False
    )
    salt: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    record: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON, as committed
    provider_id: Mapped[str] = mapped_column(String(120), nullable=False)
    pseudonym: Mapped[str] = mapped_column(String(200), nullable=False)
    accessed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    hidden_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class WitnessState(Base):
    """As a witness: the latest checkpoint this node cosigned for a log (tlog-witness)."""

    __tablename__ = "ledger_witness_state"

    origin: Mapped[str] = mapped_column(String(255), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    root: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    checkpoint: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
