"""Errors of the datastore (each slug is documented in docs/problems.md)."""

from __future__ import annotations

from tsunagu.kernel import Problem


class DatastoreLoadError(Problem):
    """The file cannot be loaded at all; nothing of it was stored."""

    slug = "datastore-load-error"
    title = "The file cannot be loaded into the datastore"
    status = 422


class SqlRejected(Problem):
    """SQL that is not a read of datastore tables (a write, a PRAGMA, another table)."""

    slug = "datastore-sql-rejected"
    title = "Only reads of datastore tables are allowed"
    status = 403


class SqlError(Problem):
    """SQL the database could not run (syntax, unknown column, type mismatch)."""

    slug = "datastore-sql-error"
    title = "The SQL query failed"
    status = 422


class SqlTimeout(Problem):
    slug = "datastore-sql-timeout"
    title = "The SQL query took too long"
    status = 422


class SqlNotConfigured(Problem):
    """PostgreSQL without ``TSUNAGU_DATASTORE_READ_URL``: no read-only role to run SQL as."""

    slug = "datastore-sql-not-configured"
    title = "The SQL endpoint is not configured"
    status = 503
