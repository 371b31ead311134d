"""The one place that reads the wall clock, so tests and imports agree on time zones."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def naive_utcnow() -> datetime:
    """Current UTC time without tzinfo, as stored in database columns."""
    return datetime.now(UTC).replace(tzinfo=None)
