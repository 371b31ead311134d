"""CKAN package_search through the app answers the same with either search engine.

A database of its own with committed data (the tantivy engine reads committed changes only),
and one app per ``TSUNAGU_SEARCH_ENGINE`` value over it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.catalog.conftest import sample_dataset
from tests.conftest import migrated_engine
from tsunagu.accounts import create_organization, create_token
from tsunagu.app import create_app
from tsunagu.catalog import Group
from tsunagu.kernel import Settings

API = "/api/3/action/"
ENGINES = ["database", "tantivy"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    with migrated_engine(tmp_path_factory.mktemp("engines-db"), "engines") as engine:
        with Session(engine) as session:
            create_organization(session, "test-org", "テスト市", title_en="Test City")
            session.add(Group(name="population", title="人口"))
            _, token = create_token(session, "test-org", "tests")
            session.commit()
        yield engine, token


@pytest.fixture(scope="module")
def clients(
    shared: tuple[Engine, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, TestClient]]:
    engine, token = shared
    out: dict[str, TestClient] = {}
    for name in ENGINES:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp(f"data-{name}"),
            secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
            rate_limit_write="1000/minute",
            rate_limit_search="5000/minute",
            search_engine=name,  # type: ignore[arg-type]
        )
        out[name] = TestClient(create_app(settings, engine), raise_server_exceptions=False)
    writer = out["database"]
    for overrides in (
        {},
        {"name": "tax-revenue", "title": "都税収入の推移", "notes": "税目別の収入額",
         "tags": [{"name": "財政"}], "groups": [], "municipalities": [],
         "license_id": "gov-std-2.0", "resources": [{"name": "収入", "format": "XLSX"}]},
        {"name": "hidden", "title": "非公開の人口", "private": True},
    ):  # fmt: skip
        response = writer.post(
            API + "package_create",
            json=sample_dataset(**overrides),
            headers={"Authorization": token},
        )
        assert response.status_code == 200, response.text
    yield out
    for client in out.values():
        client.close()


def search(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = client.get(API + "package_search", params=params, headers=headers or {})
    return response.status_code, response.json()


PARAMS: list[dict[str, Any]] = [
    {"q": "人口"},
    {"q": "*:*"},
    {"q": "税"},
    {"facet.field": json.dumps(["organization", "res_format", "license_id", "tags", "groups"])},
    {"fq": 'tags:"財政"'},
    {"fq": "organization:test-org +res_format:CSV"},
    {"sort": "name asc", "rows": 1},
    {"sort": "name asc", "rows": 1, "start": 1},
    {"sort": "title_string asc"},
    {"sort": "metadata_modified desc"},
    {"include_private": "true"},
    {"rows": "1001"},
    {"sort": "random()"},
    {"q": "x" * 500},
    {"q": '"人口'},
    {"q": "人口 NEAR 統計"},
]


@pytest.mark.parametrize("params", PARAMS, ids=[json.dumps(p, ensure_ascii=False) for p in PARAMS])
def test_package_search_is_the_same_on_both_engines(
    clients: dict[str, TestClient], params: dict[str, Any]
) -> None:
    answers = [search(clients[name], **params) for name in ENGINES]
    assert answers[0] == answers[1]
    assert answers[1][0] in (200, 409)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_own_private_datasets_with_a_token(
    clients: dict[str, TestClient], shared: tuple[Engine, str], engine_name: str
) -> None:
    headers = {"Authorization": shared[1]}
    _, body = search(clients[engine_name], headers, include_private="true")
    assert body["result"]["count"] == 3


@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_write_is_found_by_the_next_search(
    clients: dict[str, TestClient], shared: tuple[Engine, str], engine_name: str, tmp_path: Path
) -> None:
    client, token = clients[engine_name], shared[1]
    name = f"bridges-{engine_name}"
    created = client.post(API + "package_create", headers={"Authorization": token},
                          json=sample_dataset(name=name, title="橋梁の点検結果"))  # fmt: skip
    assert created.status_code == 200, created.text
    _, body = search(client, q="橋梁")
    assert [r["name"] for r in body["result"]["results"]] == [name]
    deleted = client.post(API + "package_delete", headers={"Authorization": token},
                          json={"id": name})  # fmt: skip
    assert deleted.status_code == 200, deleted.text
    assert search(client, q="橋梁")[1]["result"]["count"] == 0
