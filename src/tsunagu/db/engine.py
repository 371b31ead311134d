"""Engines and sessions; the only place that knows SQLite's and PostgreSQL's quirks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, RootTransaction, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

IMMEDIATE = "tsunagu_sqlite_immediate"
SQLITE_BUSY_SECONDS = 30  # how long a SQLite statement waits for another connection's write lock
_BEGUN = "tsunagu_sqlite_begun"  # Connection.info: BEGIN already sent (begin_if_free)
_SQLITE_BUSY = 5  # SQLite's primary result code (extended codes keep it in the low byte)


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def is_postgres(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "postgresql"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine. SQLite gets WAL, foreign keys and real transactions (savepoints work)."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
            **kwargs,
        )
        _make_sqlite_transactional(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def autovacuum_warning(setting: str) -> str | None:
    """The warning for PostgreSQL's ``autovacuum`` setting, or None when it is on."""
    if setting == "on":
        return None
    return (
        f"PostgreSQL runs with autovacuum={setting}: the message log, outbox and queues update "
        "rows they inserted, and their dead row versions pile up until VACUUM; turn autovacuum "
        "on or run VACUUM regularly (docs/mesh.md, Operations)"
    )


def server_warnings(engine: Engine) -> list[str]:
    """What an operator should hear about the database server before serving: on PostgreSQL,
    autovacuum off (SQLite needs none)."""
    if not is_postgres(engine):
        return []
    with engine.connect() as connection:
        setting = str(connection.exec_driver_sql("SHOW autovacuum").scalar())
    warning = autovacuum_warning(setting)
    return [warning] if warning else []


def _make_sqlite_transactional(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; SQLAlchemy documents
    # this recipe ("Serializable isolation / Savepoints / Transactional DDL") to take it over.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A transaction that reads, then writes, must take the write lock up front: SQLite
        # fails such an upgrade at once ("database is locked") when another connection
        # committed meanwhile, without waiting for the busy timeout. Queue workers ask for it.
        # Straight to the driver: SQLAlchemy's execution path (events, result set-up) cost
        # more than the BEGIN itself, once per transaction of every request.
        if conn.info.pop(_BEGUN, False):  # begin_if_free sent it already
            return
        immediate = conn.get_execution_options().get(IMMEDIATE)
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_if_free(connection: Connection) -> RootTransaction | None:
    """SQLite: begin a transaction holding the write lock if no other connection holds it now;
    None, at once, if one does (instead of waiting up to :data:`SQLITE_BUSY_SECONDS`).

    For work that would rather go elsewhere than wait: the mesh's message-log writer runs in
    the event loop while the lock is free and hands its batch to its thread when not.
    """
    raw: Any = connection.connection.dbapi_connection
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        raw.execute("BEGIN IMMEDIATE")
    except connection.dialect.loaded_dbapi.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY:
            return None
        raise
    finally:
        raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_SECONDS * 1000}")
    connection.info[_BEGUN] = True
    return connection.begin()


def make_sessionmaker(bind: Any, *, immediate: bool = False) -> sessionmaker[Session]:
    """Sessions for ``bind``; ``immediate`` makes SQLite transactions take the write lock at
    BEGIN (for read-modify-write work such as claiming queue rows; no effect elsewhere)."""
    if immediate and isinstance(bind, Engine):
        bind = bind.execution_options(**{IMMEDIATE: True})
    return sessionmaker(bind=bind, expire_on_commit=False)
