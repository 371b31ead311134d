"""Database access: engines, sessions and Alembic migrations for SQLite and PostgreSQL."""

from .base import Base
from .engine import is_postgres, is_sqlite, make_engine, make_sessionmaker
from .migrate import current_revision, head_revision, migrate

__all__ = [
    "Base",
    "current_revision",
    "head_revision",
    "is_postgres",
    "is_sqlite",
    "make_engine",
    "make_sessionmaker",
    "migrate",
]
