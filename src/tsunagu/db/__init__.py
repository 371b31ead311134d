"""Database access: engines, sessions and Alembic migrations for SQLite and PostgreSQL."""

from .base import Base
from .engine import (
    IMMEDIATE,
    begin_if_free,
    is_postgres,
    is_sqlite,
    make_engine,
    make_sessionmaker,
    server_warnings,
)
from .migrate import current_revision, head_revision, migrate
from .outbox import OutboxEvent, events_for, mark_published, pending, record_events

__all__ = [
    "IMMEDIATE",
    "Base",
    "OutboxEvent",
    "begin_if_free",
    "current_revision",
    "events_for",
    "head_revision",
    "is_postgres",
    "is_sqlite",
    "make_engine",
    "make_sessionmaker",
    "mark_published",
    "migrate",
    "pending",
    "record_events",
    "server_warnings",
]
