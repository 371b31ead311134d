"""Test fixtures: a real database (SQLite or PostgreSQL) built by the migrations.

``TSUNAGU_TEST_DATABASE_URL`` picks the server: unset means a SQLite file; a
``postgresql+psycopg://`` URL means a fresh database created on that server for this run (and
dropped after). PostgreSQL being unreachable is an error, never a skip.
Each test runs inside a transaction that is rolled back.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.app import create_app
from tsunagu.catalog import ensure_licenses
from tsunagu.db import make_engine, migrate
from tsunagu.kernel import Settings

# The project is cloned next to shared/ (sessions and CI alike); TSUNAGU_STANDARDS overrides.
SHARED = Path(
    os.environ.get("TSUNAGU_STANDARDS")
    or Path(__file__).resolve().parents[2] / "shared" / "standards"
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Without the standards folder, vector tests would collect nothing: fail instead."""
    if not (SHARED / "SOURCES.md").exists():
        raise pytest.UsageError(
            f"reference standards not found at {SHARED}; clone next to shared/ "
            "or set TSUNAGU_STANDARDS"
        )


def pytest_report_header() -> str:
    return f"tsunagu database: {os.environ.get('TSUNAGU_TEST_DATABASE_URL') or 'sqlite (file)'}"


def _new_database(tmp_path: Path, label: str) -> tuple[str, Any]:
    """A new empty database URL and a function that drops it."""
    base = os.environ.get("TSUNAGU_TEST_DATABASE_URL", "")
    if not base:
        return f"sqlite:///{tmp_path / f'{label}.sqlite3'}", lambda: None
    url = make_url(base)
    name = f"tsunagu_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # surface as a failure: CI must not pass without PostgreSQL
        raise RuntimeError(f"PostgreSQL at {url.render_as_string()} is unreachable: {exc}") from exc

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@contextlib.contextmanager
def migrated_engine(tmp_path: Path, label: str) -> Iterator[Engine]:
    """A new database built by the migrations, with the licences; dropped afterwards."""
    url, drop = _new_database(tmp_path, label)
    eng = make_engine(url)
    try:
        migrate(eng)
        with eng.begin() as conn:
            ensure_licenses(Session(bind=conn))
        yield eng
    finally:
        eng.dispose()
        drop()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_engine(tmp_path_factory.mktemp("db"), "suite") as eng:
        yield eng


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        log_json=True,
        rate_limit_write="1000/minute",
        rate_limit_search="5000/minute",
    )


@pytest.fixture
def app(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> FastAPI:
    application = create_app(settings, engine)
    application.state.sessionmaker = session_factory  # every request joins the test transaction
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def org_token(session: Session) -> tuple[Caller, str]:
    """An organization 'test-org' with an API token."""
    org = create_organization(
        session, "test-org", "テスト市", title_en="Test City", corporate_number="8000012050001"
    )
    row, token = create_token(session, org.name, "tests")
    session.commit()
    return Caller(org.id, org.name, row.id), token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn server on a loopback port, with its own database."""

    def __init__(self, app: FastAPI, engine: Engine) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.engine = engine
        self.app = app
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of its own for a live server (committed data, not rolled back)."""
    with migrated_engine(tmp_path_factory.mktemp("live"), "live") as eng:
        yield eng


@pytest.fixture(scope="module")
def live_server(
    live_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("live-data"),
        secret_key="live-test-secret",  # type: ignore[arg-type]
        rate_limit_write="1000/minute",
        rate_limit_search="5000/minute",
    )
    server = LiveServer(create_app(settings, live_engine), live_engine)
    server.start()
    yield server
    server.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` need both databases; they run in the PostgreSQL half."""
    if os.environ.get("TSUNAGU_TEST_DATABASE_URL"):
        return
    selected = [item for item in items if item.get_closest_marker("postgres") is None]
    deselected = [item for item in items if item.get_closest_marker("postgres") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
