"""Per-request database sessions for the web layer."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.requests import Request

from tsunagu.accounts import Caller, authenticate
from tsunagu.db import IMMEDIATE
from tsunagu.kernel import Unauthorized

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def new_session(request: Request, *, write: bool) -> Session:
    """A session of the app; ``write`` ones begin as SQLite BEGIN IMMEDIATE.

    A deferred SQLite transaction that reads and then writes fails at once ("database is
    locked") if another process committed in between; one that takes the lock at BEGIN waits
    for the busy timeout instead. No effect on PostgreSQL, nor on sessions bound to a
    connection (the tests'). The lock is taken lazily, at the session's first statement.
    """
    maker = request.app.state.sessionmaker
    bind = maker.kw.get("bind")
    if write and isinstance(bind, Engine):
        return maker(bind=bind.execution_options(**{IMMEDIATE: True}))  # type: ignore[no-any-return]
    return maker()  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one session per request.

    Write endpoints commit explicitly before they answer, so a client never sees success for
    a write that later fails; anything not committed is rolled back when the session closes.
    """
    session = new_session(request, write=request.method not in SAFE)
    # What the composition root attaches to every request's session (the search engine).
    session.info.update(getattr(request.app.state, "session_info", {}))
    try:
        yield session
    finally:
        session.close()


def get_caller(request: Request) -> Caller | None:
    """The caller's organization from an ``Authorization`` or ``X-CKAN-API-Key`` token, if any."""
    token = request.headers.get("authorization") or request.headers.get("x-ckan-api-key")
    if not token:
        return None
    # A read: on SQLite a write session would wait for the write lock at BEGIN, so every
    # authenticated request would stall behind a long write (a datastore load) and fail.
    # authenticate() records last_used only if the lock is free at that moment.
    session = new_session(request, write=False)
    try:
        caller = authenticate(session, token)
        session.commit()  # records last_used, if it was recorded
        return caller
    finally:
        session.close()


def require_caller(request: Request) -> Caller:
    caller = get_caller(request)
    if caller is None:
        raise Unauthorized("this action needs an API token in the Authorization header")
    return caller
