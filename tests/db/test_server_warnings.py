"""Warnings about the database server printed before serving (tsunagu.db.server_warnings)."""

from __future__ import annotations

from sqlalchemy import Engine

from tsunagu.db import server_warnings
from tsunagu.db.engine import autovacuum_warning


def test_autovacuum_off_is_named_and_on_is_silent() -> None:
    assert autovacuum_warning("on") is None
    warning = autovacuum_warning("off")
    assert warning is not None
    assert "autovacuum=off" in warning and "VACUUM" in warning


def test_the_server_in_use_is_asked(engine: Engine) -> None:
    """SQLite has no such setting; PostgreSQL's is read from the server (this suite's server
    may run with autovacuum either way: the warning must follow it)."""
    if engine.dialect.name != "postgresql":
        assert server_warnings(engine) == []
        return
    with engine.connect() as connection:
        setting = connection.exec_driver_sql("SHOW autovacuum").scalar()
    expected = autovacuum_warning(str(setting))
    assert server_warnings(engine) == ([expected] if expected else [])
