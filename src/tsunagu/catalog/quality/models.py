"""Tables of the quality checks: URL reachability, file checks, and score snapshots over time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db import Base
from tsunagu.kernel import naive_utcnow


class UrlCheck(Base):
    """The last answer of an access or download URL (MQA accessibility), checked by a job."""

    __tablename__ = "quality_url_check"

    url_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the URL
    url: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: no HTTP answer
    error: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow, index=True)


class FileCheck(Base):
    """The machine-readability check of a distribution's file: its findings, or why it failed."""

    __tablename__ = "quality_file_check"

    distribution_pk: Mapped[int] = mapped_column(
        ForeignKey("distribution.pk", ondelete="CASCADE"), primary_key=True
    )
    checked_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    status: Mapped[str] = mapped_column(String(20))  # checked | failed | not-table
    error: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(20), default="")
    encoding: Mapped[str] = mapped_column(String(20), default="")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    finding_count: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class QualitySnapshot(Base):
    """Scores of the catalog, an organization or a dataset at one time (the trend)."""

    __tablename__ = "quality_snapshot"
    __table_args__ = (Index("ix_quality_snapshot_scope_key", "scope", "key", "taken_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))  # catalog | organization | dataset
    key: Mapped[str] = mapped_column(String(100), default="")  # organization/dataset name
    taken_at: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    datasets: Mapped[int] = mapped_column(Integer, default=0)
    mqa_points: Mapped[float] = mapped_column(Float, default=0.0)
    mqa_rating: Mapped[str] = mapped_column(String(20), default="")
    stars: Mapped[float] = mapped_column(Float, default=0.0)  # mean 5-star rating
    findings: Mapped[int] = mapped_column(Integer, default=0)  # machine-readability findings
    indicators: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
