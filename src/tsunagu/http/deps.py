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


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one session per request.

    Write endpoints commit explicitly before they answer, so a client never sees success for
    a write that later fails; anything not committed is rolled back when the session closes.
    """
    maker = request.app.state.sessionmaker
    bind = maker.kw.get("bind")
    if request.method not in SAFE and isinstance(bind, Engine):
        # Writes begin as SQLite BEGIN IMMEDIATE (no effect on PostgreSQL): a deferred
        # transaction that reads and then writes fails at once if another process committed
        # in between. Lazily, at the first statement: the token check before it writes too.
        session: Session = maker(bind=bind.execution_options(**{IMMEDIATE: True}))
    else:
        session = maker()
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
    session: Session = request.app.state.sessionmaker()
    try:
        caller = authenticate(session, token)
        session.commit()  # records last_used
        return caller
    finally:
        session.close()


def require_caller(request: Request) -> Caller:
    caller = get_caller(request)
    if caller is None:
        raise Unauthorized("this action needs an API token in the Authorization header")
    return caller
