"""The one place that reads the wall clock, so tests and imports agree on time zones; and the
one reading of a date that an API is given."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from .errors import ValidationProblem


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def naive_utcnow() -> datetime:
    """Current UTC time without tzinfo, as stored in database columns."""
    return datetime.now(UTC).replace(tzinfo=None)


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only


def parse_iso_date(value: str, field: str) -> date:
    """``YYYY-MM-DD`` or a ValidationProblem naming the field — only that form, which the APIs
    document: ``date.fromisoformat`` also reads ``19800501`` and week dates (``1980-W18-4``)."""
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationProblem(
            f"{field} must be a date YYYY-MM-DD, got {value!r}", field=field
        ) from None
