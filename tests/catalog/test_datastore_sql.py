"""datastore_search_sql: one read-only statement over public datastore tables, time-limited.

Enforcement is the database's: SQLite's authorizer and progress handler, PostgreSQL's read-only
role (granted only the datastore tables of public datasets), READ ONLY transaction and
statement_timeout. The tests run on whichever database the suite runs on, with committed data
(PostgreSQL's read role connects on its own and sees only committed rows).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.conftest import migrated_engine
from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.app import create_app
from tsunagu.catalog import get_dataset
from tsunagu.catalog.datastore import load_file
from tsunagu.kernel import Settings

from .datastore_helpers import AED_HEADER, AED_ROWS, make_resource, write_csv

READER = "tsunagu_test_datastore_reader"


@pytest.fixture(scope="module")
def sql_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_engine(tmp_path_factory.mktemp("sql"), "sql") as eng:
        yield eng


@pytest.fixture(scope="module")
def read_url(sql_engine: Engine) -> str:
    """PostgreSQL: a login role with no rights of its own (SQLite: no read URL needed)."""
    if sql_engine.dialect.name != "postgresql":
        return ""
    with sql_engine.begin() as conn:
        conn.execute(text(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}') "
            f"THEN CREATE ROLE {READER} LOGIN; END IF; END $$"
        ))  # fmt: skip
    url = make_url(os.environ["TSUNAGU_TEST_DATABASE_URL"]).set(
        username=READER, database=sql_engine.url.database
    )
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def tables(
    sql_engine: Engine, read_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """A public and a private resource, each loaded with the AED rows (committed)."""
    tmp = tmp_path_factory.mktemp("sql-files")
    grant_to = make_url(read_url).username if read_url else None
    with Session(sql_engine) as session:
        org = create_organization(session, "sql-city", "SQL市", corporate_number="8000012050001")
        create_token(session, org.name, "tests")
        caller = Caller(org.id, org.name, 0)
        out = {}
        for name, private in (("public", False), ("private", True), ("later", False)):
            resource = make_resource(session, caller, name=f"aed-{name}", private=private)
            path = write_csv(tmp / f"{name}.csv", [AED_HEADER, *AED_ROWS])
            load_file(session, resource, path, grant_to=grant_to)
            out[name] = resource.id
        session.commit()
        # made private after it was loaded (and, on PostgreSQL, granted to the read role)
        later = get_dataset(session, "aed-later")
        later.private = True
        session.commit()
    return out


@pytest.fixture
def sql_client(
    sql_engine: Engine, read_url: str, tmp_path: Path, tables: dict[str, str]
) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path, secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        rate_limit_search="5000/minute", datastore_read_url=read_url,
        datastore_sql_timeout_ms=200,
    )  # fmt: skip
    with TestClient(create_app(settings, sql_engine), raise_server_exceptions=False) as client:
        yield client


def _sql(client: TestClient, sql: str) -> tuple[int, Any]:
    response = client.post("/api/3/action/datastore_search_sql", json={"sql": sql})
    return response.status_code, response.json()


def test_select_over_a_datastore_table(sql_client: TestClient, tables: dict[str, str]) -> None:
    status, body = _sql(
        sql_client,
        f'SELECT "名称", "設置台数" FROM "{tables["public"]}" WHERE "設置台数" >= 2 ORDER BY "_id"',
    )
    assert status == 200, body
    assert body["result"]["records"] == [
        {"名称": "市役所本庁舎", "設置台数": 2}, {"名称": "市立体育館", "設置台数": 3},
    ]  # fmt: skip
    assert [f["id"] for f in body["result"]["fields"]] == ["名称", "設置台数"]


def test_aggregates_and_like_with_percent_signs(
    sql_client: TestClient, tables: dict[str, str]
) -> None:
    status, body = _sql(
        sql_client,
        f'SELECT count(*) AS n, sum("設置台数") AS s FROM "{tables["public"]}" '
        "WHERE \"名称\" LIKE '%館%'",
    )
    assert status == 200, body
    assert body["result"]["records"] == [{"n": 2, "s": 4}]


@pytest.mark.parametrize(
    "sql",
    [
        'DELETE FROM "{public}"',
        'UPDATE "{public}" SET "名称" = \'x\'',
        'INSERT INTO "{public}" ("_id") VALUES (999)',
        'DROP TABLE "{public}"',
        'CREATE TABLE "evil" (a int)',
        "SELECT * FROM organization",
        "SELECT * FROM api_token",
        'SELECT * FROM "{private}"',
        'SELECT * FROM "{later}"',
        'SELECT count(*) FROM (SELECT 1 FROM "{public}" UNION ALL SELECT 1 FROM "{later}") x',
        'SELECT * FROM "{public}" JOIN dataset ON 1 = 1',
    ],
)
def test_writes_and_other_tables_are_refused(
    sql_client: TestClient, tables: dict[str, str], sql: str
) -> None:
    status, body = _sql(sql_client, sql.format(**tables))
    assert status in (403, 409), body
    assert body["success"] is False
    # and nothing changed
    status, body = _sql(sql_client, f'SELECT count(*) AS n FROM "{tables["public"]}"')
    assert body["result"]["records"] == [{"n": 3}]


def test_sqlite_pragma_attach_and_schema_are_refused(
    sql_engine: Engine, sql_client: TestClient
) -> None:
    if sql_engine.dialect.name != "sqlite":
        pytest.skip("SQLite statements")
    for sql in [
        "PRAGMA table_info(organization)",
        "SELECT * FROM sqlite_master",
        "SELECT * FROM pragma_table_info('organization')",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "SELECT load_extension('x')",
    ]:
        status, body = _sql(sql_client, sql)
        assert status in (403, 409) and body["success"] is False, (sql, body)


def test_postgres_read_only_transaction_and_functions_cannot_escape(
    sql_engine: Engine, sql_client: TestClient, tables: dict[str, str]
) -> None:
    if sql_engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL statements")
    for sql in [
        "SELECT set_config('role', 'postgres', true), count(*) FROM public.organization",
        "SELECT query_to_xml('select * from public.api_token', true, false, '')",
        f"SELECT query_to_xml('select * from datastore.\"{tables['later']}\"', true, false, '')",
        "SELECT pg_read_file('/etc/passwd')",
        f'SELECT 1; DELETE FROM "{tables["public"]}"',
        "COMMIT",
    ]:
        status, body = _sql(sql_client, sql)
        assert status in (403, 409) and body["success"] is False, (sql, body)


def test_several_statements_are_refused(sql_client: TestClient, tables: dict[str, str]) -> None:
    status, body = _sql(sql_client, f'SELECT 1; SELECT * FROM "{tables["public"]}"')
    assert status == 409 and body["success"] is False


def test_a_query_over_the_time_limit_is_stopped(sql_client: TestClient) -> None:
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    )
    status, body = _sql(sql_client, endless)
    assert status == 409
    assert "took longer" in body["error"]["message"]


def test_syntax_errors_and_empty_sql(sql_client: TestClient) -> None:
    status, body = _sql(sql_client, "SELEC 1")
    assert status == 409 and body["error"]["__type"] == "Validation Error"
    status, body = _sql(sql_client, "")
    assert status == 409 and "sql" in body["error"]


def test_postgres_without_a_read_role_has_no_sql_endpoint(
    sql_engine: Engine, tmp_path: Path, tables: dict[str, str]
) -> None:
    if sql_engine.dialect.name != "postgresql":
        pytest.skip("SQLite needs no read role")
    settings = Settings(data_dir=tmp_path, secret_key="k" * 20)  # type: ignore[arg-type]
    with TestClient(create_app(settings, sql_engine), raise_server_exceptions=False) as client:
        status, body = _sql(client, f'SELECT * FROM "{tables["public"]}"')
    assert status == 503 and "TSUNAGU_DATASTORE_READ_URL" in body["error"]["message"]
