"""A long write holding SQLite's write lock: reads with a token still work, writes answer 503.

These run on a SQLite file of their own whatever the suite's database: the lock is SQLite's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from tsunagu.accounts import ApiToken, create_organization, create_token
from tsunagu.app import create_app
from tsunagu.catalog import ensure_licenses
from tsunagu.db import make_engine, migrate
from tsunagu.kernel import Settings

PROBLEM = "application/problem+json"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "busy.sqlite3"
    engine = make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 200")  # not 30 s: the test waits it

    migrate(engine)
    with Session(engine) as session:
        ensure_licenses(session)
        create_organization(session, "busy-org", "混雑市")
        session.commit()
    yield engine, path
    engine.dispose()


@pytest.fixture
def token(database: tuple[Engine, Path]) -> str:
    engine, _ = database
    with Session(engine) as session:
        _, secret = create_token(session, "busy-org", "test")
        session.commit()
    return secret


@pytest.fixture
def busy_client(database: tuple[Engine, Path], settings: Settings) -> TestClient:
    engine, _ = database
    return TestClient(create_app(settings, engine), raise_server_exceptions=False)


@pytest.fixture
def write_lock(database: tuple[Engine, Path]) -> Iterator[sqlite3.Connection]:
    """Another connection (a datastore load, say) holding the write lock until the test ends."""
    _, path = database
    other = sqlite3.connect(path, isolation_level=None, timeout=0.2)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE organization SET description = 'loading' WHERE name = 'busy-org'")
    yield other
    other.execute("ROLLBACK")
    other.close()


def _last_used(engine: Engine) -> Any:
    with Session(engine) as session:
        return session.scalar(select(ApiToken.last_used))


def test_an_authenticated_read_works_while_another_connection_writes(
    database: tuple[Engine, Path], token: str, busy_client: TestClient,
    write_lock: sqlite3.Connection,
) -> None:  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"}
    response = busy_client.get("/api/v1/datasets", params={"include_private": "true"}, headers=auth)
    assert response.status_code == 200, response.text
    ckan = busy_client.get("/api/3/action/package_search", headers=auth)
    assert ckan.status_code == 200 and ckan.json()["success"] is True
    assert _last_used(database[0]) is None  # skipped, not waited for


def test_the_last_use_is_recorded_when_the_database_is_free(
    database: tuple[Engine, Path], token: str, busy_client: TestClient
) -> None:
    response = busy_client.get("/api/v1/datasets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert _last_used(database[0]) is not None


def test_a_write_that_cannot_get_the_lock_is_503_with_retry_after(
    token: str, busy_client: TestClient, write_lock: sqlite3.Connection
) -> None:
    dataset = {"name": "during-load", "title": "t", "owner_org": "busy-org"}
    auth = {"Authorization": f"Bearer {token}"}
    response = busy_client.post("/api/v1/datasets", json=dataset, headers=auth)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["type"].endswith("#unavailable")

    ckan = busy_client.post("/api/3/action/package_create", json=dataset, headers=auth)
    assert ckan.status_code == 503 and int(ckan.headers["retry-after"]) > 0
    assert ckan.json()["success"] is False and "busy" in ckan.json()["error"]["message"]


def test_a_checkpoint_due_is_signed_though_another_connection_commits_meanwhile(
    database: tuple[Engine, Path], settings: Settings
) -> None:
    """GET /log/checkpoint may sign a new checkpoint. Signing in its read transaction was a
    lock upgrade, which SQLite refuses at once when another connection committed after the
    read began (503, seen in the mesh federation test under load); now the signing session
    takes the lock at BEGIN and waits for it."""
    import threading

    from tsunagu.ledger import services

    engine, path = database
    with Session(engine) as session:
        services.append_entries(session, [b"entry 0", b"entry 1"])
        session.commit()
    settings.log_checkpoint_interval = 0
    client = TestClient(create_app(settings, engine), raise_server_exceptions=False)
    other = sqlite3.connect(path, isolation_level=None, timeout=5, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE organization SET description = 'busy' WHERE name = 'busy-org'")
    timer = threading.Timer(0.1, lambda: other.execute("COMMIT"))  # within the 200 ms timeout
    timer.start()
    try:
        response = client.get("/log/checkpoint")
    finally:
        timer.join()
        other.close()
    assert response.status_code == 200, response.text
    assert response.text.splitlines()[1] == "2"  # the tree's size
