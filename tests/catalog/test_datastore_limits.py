"""Limits of the datastore that keep hostile input from becoming a 500 or exhausting the server.

Result size of datastore_search_sql, non-finite numbers, 64-bit offsets and _id filters, the
column count of a table, and XLSX files that declare a size their cells do not have.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller
from tsunagu.catalog import Distribution
from tsunagu.catalog.datastore import (
    DatastoreLoadError,
    SearchRequest,
    SqlError,
    get_table,
    load_file,
    read_all,
    run_sql,
    search,
)
from tsunagu.catalog.datastore.load import max_columns
from tsunagu.http import MAX_OFFSET
from tsunagu.kernel import ValidationProblem

from .datastore_helpers import AED_HEADER, AED_ROWS, make_resource, write_csv

BIG_OFFSET = 2**63


@pytest.fixture
def loaded(session: Session, org_token: tuple[Caller, str], tmp_path: Path) -> Distribution:
    resource = make_resource(session, org_token[0])
    load_file(session, resource, write_csv(tmp_path / "aed.csv", [AED_HEADER, *AED_ROWS]))
    session.commit()
    return resource


def _sql(session: Session, sql: str, **limits: Any) -> dict[str, Any]:
    bind = session.get_bind()
    return run_sql(
        session, sql, timeout_ms=2000, max_rows=limits.pop("max_rows", 100),
        read_engine=None if bind.dialect.name == "sqlite" else bind.engine, **limits,
    )  # fmt: skip


def _ckan(client: TestClient, action: str, **params: Any) -> tuple[int, Any]:
    response = client.post(f"/api/3/action/{action}", json=params)
    return response.status_code, response.json()


# ---- datastore_search_sql: result size ---------------------------------------------------


def test_sql_refuses_a_value_larger_than_the_result_limit(session: Session) -> None:
    sqlite = session.get_bind().dialect.name == "sqlite"
    big = "SELECT randomblob(5000) AS b" if sqlite else "SELECT repeat('x', 5000) AS b"
    with pytest.raises(SqlError, match="larger than 1000 bytes, the limit of datastore_search_sql"):
        _sql(session, big, max_bytes=1000)
    assert _sql(session, big, max_bytes=20_000)["records"][0]["b"]


def test_sql_refuses_many_small_values_past_the_result_limit(session: Session) -> None:
    sqlite = session.get_bind().dialect.name == "sqlite"
    rows = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
        "SELECT printf('%.50c', 'x') AS v FROM n"
        if sqlite
        else "SELECT repeat('x', 50) AS v FROM generate_series(1, 100)"
    )
    with pytest.raises(SqlError, match="larger than 1000 bytes"):
        _sql(session, rows, max_bytes=1000)
    result = _sql(session, rows, max_bytes=1000, max_rows=10)  # 10 rows fit
    assert len(result["records"]) == 10 and result["records_truncated"] is True


@pytest.mark.parametrize(
    ("sql", "names", "rows"),
    [
        ("SELECT repeat('x', 5000) AS b", ["b"], [(True, None)]),
        ("SELECT repeat('x', 50) AS b, 1 AS b;", ["b", "b"], [(False, "x" * 50, 1)]),
        ("SELECT FROM generate_series(1, 2) -- no columns", [], [(False,), (False,)]),
        (
            "SELECT i, repeat('y', i * 400) AS v FROM generate_series(1, 3) AS i ORDER BY i",
            ["i", "v"],
            [(False, 1, "y" * 400), (False, 2, "y" * 800), (True, None, None)],
        ),
    ],
)
def test_postgres_never_sends_a_row_above_the_result_limit(
    session: Session, sql: str, names: list[str], rows: list[tuple[Any, ...]]
) -> None:
    """libpq receives a row whole, so a row above the limit must not leave the server: the
    wrapped statement sends a flag and NULLs in its place."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite stops an oversized value with SQLITE_LIMIT_LENGTH instead")
    from tsunagu.catalog.datastore.sql import _bounded

    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        found, bounded = _bounded(cursor, sql, 1000)
        assert found == names
        assert [tuple(r) for r in cursor.execute(bounded).fetchall()] == rows


def test_postgres_refuses_what_is_not_a_select(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's wrapper")
    from tsunagu.catalog.datastore.errors import SqlRejected

    with pytest.raises(SqlRejected, match="only SELECT statements are allowed"):
        _sql(session, "CREATE TABLE tsunagu_never AS SELECT 1 AS a")


def test_sqlite_length_limit_is_restored_on_the_pooled_connection(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's SQLITE_LIMIT_LENGTH")
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    before = raw.getlimit(sqlite3.SQLITE_LIMIT_LENGTH)
    with pytest.raises(SqlError):
        _sql(session, "SELECT randomblob(5000)", max_bytes=1000)
    assert raw.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) == before


def test_sql_over_http_names_the_limit_in_the_ckan_envelope(
    session: Session, client: TestClient
) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the test app has no read role on PostgreSQL")
    # 60 MB: over the default limit, refused by SQLite before it allocates anything.
    status, body = _ckan(client, "datastore_search_sql", sql="SELECT randomblob(60000000)")
    assert status == 409 and body["success"] is False
    assert "50000000 bytes, the limit of datastore_search_sql" in body["error"]["message"]


# ---- non-finite numbers -------------------------------------------------------------------


def test_sql_answers_infinities_and_nan_as_null(session: Session) -> None:
    sqlite = session.get_bind().dialect.name == "sqlite"
    sql = (
        "SELECT 1e999 AS a, -1e999 AS b, 1.5 AS c"
        if sqlite
        else "SELECT 'Infinity'::float8 AS a, 'NaN'::numeric AS b, 1.5 AS c"
    )
    result = _sql(session, sql)
    assert result["records"] == [{"a": None, "b": None, "c": 1.5}]
    json.dumps(result, allow_nan=False)  # what JSONResponse does


def test_sql_over_http_answers_1e999_as_null(session: Session, client: TestClient) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the test app has no read role on PostgreSQL")
    status, body = _ckan(client, "datastore_search_sql", sql="SELECT 1e999 AS x")
    assert status == 200 and body["result"]["records"] == [{"x": None}]


def test_search_refuses_non_finite_filter_and_q_values(
    client: TestClient, loaded: Distribution
) -> None:
    for params in (
        {"filters": '{"名称": 1e400}'},  # as JSON text in a query string
        {"filters": '{"設置台数": [1, -1e400]}'},
        {"q": '{"名称": 1e400}'},
    ):
        status, body = _ckan(client, "datastore_search", resource_id=loaded.id, **params)
        assert status == 409 and body["success"] is False, (params, body)
        assert "not a finite number" in json.dumps(body["error"], ensure_ascii=False)


# ---- offsets and _id filters --------------------------------------------------------------


def test_search_bounds_offset(session: Session, client: TestClient, loaded: Distribution) -> None:
    reg = get_table(session, loaded.id, None)
    with pytest.raises(ValidationProblem, match="offset must be between 0 and"):
        search(session, reg, SearchRequest(offset=MAX_OFFSET + 1))
    assert search(session, reg, SearchRequest(offset=MAX_OFFSET))["records"] == []
    status, body = _ckan(client, "datastore_search", resource_id=loaded.id, offset=BIG_OFFSET)
    assert status == 409 and body["success"] is False


@pytest.mark.parametrize("value", ["²", "١٢", str(BIG_OFFSET), BIG_OFFSET, -1, True])
def test_search_refuses_an_id_filter_that_is_not_a_64_bit_ascii_integer(
    client: TestClient, loaded: Distribution, value: Any
) -> None:
    status, body = _ckan(client, "datastore_search", resource_id=loaded.id, filters={"_id": value})
    assert status == 409 and "_id must be a row id" in json.dumps(body["error"]), body


def test_search_still_takes_ascii_id_filters(session: Session, loaded: Distribution) -> None:
    reg = get_table(session, loaded.id, None)
    result = search(session, reg, SearchRequest(filters={"_id": [" 3 ", 4]}))
    assert [r["_id"] for r in result["records"]] == [3, 4]


def test_datastore_page_refuses_non_ascii_and_huge_offsets(
    client: TestClient, loaded: Distribution
) -> None:
    page = f"/dataset/aed-list/resource/{loaded.id}/data"
    assert client.get(page, params={"offset": "²"}).status_code == 400
    assert client.get(page, params={"offset": str(BIG_OFFSET)}).status_code in (400, 422)
    assert client.get(page, params={"offset": "1"}).status_code == 200


# ---- columns ------------------------------------------------------------------------------


def test_a_file_wider_than_the_database_allows_is_refused_and_keeps_the_previous_table(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    resource = make_resource(session, org_token[0])
    good = load_file(session, resource, write_csv(tmp_path / "aed.csv", [AED_HEADER, *AED_ROWS]))
    session.commit()
    limit = max_columns(session.connection())
    assert limit == (1999 if session.get_bind().dialect.name == "sqlite" else 1599)
    wide = write_csv(
        tmp_path / "wide.csv",
        [",".join(f"c{i}" for i in range(limit + 1)), ",".join("1" for _ in range(limit + 1))],
    )
    with pytest.raises(DatastoreLoadError, match=f"at most {limit}") as caught:
        load_file(session, resource, wide, validate=False)
    assert caught.value.status == 422
    session.rollback()
    records = search(session, good.table, SearchRequest())["records"]
    assert [r["名称"] for r in records] == ["市役所本庁舎", "中央公民館", "市立体育館"]


# ---- XLSX declared size -------------------------------------------------------------------


def _xlsx_declaring(path: Path, ref: str) -> Path:
    """A 3-column workbook whose <dimension> was edited to ``ref``."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for line in ["NO,名称,設置台数", "1,市役所本庁舎,2", "2,中央公民館,1"]:
        sheet.append(line.split(","))
    plain = path.with_suffix(".orig.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                data, n = re.subn(
                    rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), data
                )
                assert n == 1
            target.writestr(info, data)
    return path


def test_an_xlsx_declaring_fewer_columns_than_it_has_is_read_whole(tmp_path: Path) -> None:
    header, rows = read_all(_xlsx_declaring(tmp_path / "small.xlsx", "A1"))
    assert header == ["NO", "名称", "設置台数"]
    assert rows == [["1", "市役所本庁舎", "2"], ["2", "中央公民館", "1"]]


def test_validation_does_not_pad_rows_to_the_declared_size(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    resource = make_resource(session, org_token[0], dictionary=[])
    report = load_file(session, resource, _xlsx_declaring(tmp_path / "d.xlsx", "A1:ZZ1000"))
    validation = report.table.validation
    assert validation is not None
    assert validation["errors"] == [] and validation["valid"] is True


def test_an_xlsx_declaring_the_whole_sheet_loads_in_moments(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    resource = make_resource(session, org_token[0], dictionary=[])
    path = _xlsx_declaring(tmp_path / "dim.xlsx", "A1:XFD1048576")
    started = time.monotonic()
    report = load_file(session, resource, path)
    assert time.monotonic() - started < 10  # was minutes and gigabytes
    assert report.rows == 2 and [f["id"] for f in report.table.fields] == ["NO", "名称", "設置台数"]
