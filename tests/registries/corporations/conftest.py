"""Fixtures of the corporate registry's tests."""

from __future__ import annotations

import psycopg
import pytest


@pytest.fixture
def copy_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ``COPY`` statement psycopg is given from now on, in order."""
    statements: list[str] = []
    real_copy = psycopg.Cursor.copy

    def spy(self: psycopg.Cursor[object], statement: str, *args: object, **kw: object) -> object:
        statements.append(statement)
        return real_copy(self, statement, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    return statements
