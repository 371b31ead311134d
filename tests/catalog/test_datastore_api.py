"""CKAN DataStore actions: datastore_search, datastore_info, datastore_delete (CKAN envelope)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.catalog import Distribution
from tsunagu.catalog.datastore import load_file

from .datastore_helpers import AED_HEADER, AED_ROWS, make_resource, write_csv

ROWS = [
    *AED_ROWS,
    "4,市民病院,34.2400,135.1900,2,2019-07-01",
    "5,市民会館,34.2500,135.2000,1,2022-03-31",
    "6,体育館別館,34.2600,135.2100,x,2022-03-31",  # rejected: 設置台数 is not an integer
]


@pytest.fixture
def loaded(session: Session, org_token: tuple[Caller, str], tmp_path: Path) -> Distribution:
    resource = make_resource(session, org_token[0])
    load_file(session, resource, write_csv(tmp_path / "aed.csv", [AED_HEADER, *ROWS]))
    session.commit()
    return resource


def _call(client: TestClient, action: str, **params: Any) -> Any:
    response = client.post(f"/api/3/action/{action}", json=params)
    body = response.json()
    return response.status_code, body


def _result(client: TestClient, action: str, **params: Any) -> Any:
    status, body = _call(client, action, **params)
    assert status == 200 and body["success"] is True, body
    return body["result"]


def test_search_returns_typed_records_fields_and_total(
    client: TestClient, loaded: Distribution
) -> None:
    result = _result(client, "datastore_search", resource_id=loaded.id)
    assert result["total"] == 5
    assert [f["id"] for f in result["fields"]] == ["_id", "NO", "名称", "緯度", "経度",
                                                   "設置台数", "設置開始日"]  # fmt: skip
    first = result["records"][0]
    assert first == {"_id": 2, "NO": "1", "名称": "市役所本庁舎", "緯度": 34.226,
                     "経度": 135.1675, "設置台数": 2, "設置開始日": "2020-04-01"}  # fmt: skip


def test_search_filters_q_fields_sort_and_paging(client: TestClient, loaded: Distribution) -> None:
    rid = loaded.id
    by_count = _result(client, "datastore_search", resource_id=rid, filters={"設置台数": [2, 3]})
    assert sorted(r["名称"] for r in by_count["records"]) == sorted(
        ["市民病院", "市立体育館", "市役所本庁舎"]
    )
    assert by_count["total"] == 3
    # GET with JSON-encoded filters, as CKAN clients send them
    got = client.get(
        "/api/3/action/datastore_search",
        params={"resource_id": rid, "filters": json.dumps({"設置開始日": "2022-03-31"})},
    ).json()["result"]
    assert [r["名称"] for r in got["records"]] == ["市民会館"]
    q = _result(client, "datastore_search", resource_id=rid, q="市民")
    assert [r["名称"] for r in q["records"]] == ["市民病院", "市民会館"]
    q_field = _result(client, "datastore_search", resource_id=rid, q={"名称": "館"})
    assert q_field["total"] == 3  # 中央公民館, 市立体育館, 市民会館
    page = _result(
        client, "datastore_search", resource_id=rid, fields="名称,設置台数",
        sort="設置台数 desc, 名称", limit=2, offset=1,
    )  # fmt: skip
    # 設置台数 3, 2, 2, 1, 1; ties by 名称 (役 U+5F79 before 民 U+6C11); offset 1 skips the 3.
    assert page["records"] == [
        {"名称": "市役所本庁舎", "設置台数": 2},
        {"名称": "市民病院", "設置台数": 2},
    ]
    assert page["total"] == 5 and [f["id"] for f in page["fields"]] == ["名称", "設置台数"]
    no_total = _result(client, "datastore_search", resource_id=rid, include_total=False, limit=0)
    assert "total" not in no_total and no_total["records"] == []


def test_q_treats_like_wildcards_as_text(client: TestClient, loaded: Distribution) -> None:
    assert _result(client, "datastore_search", resource_id=loaded.id, q="%")["total"] == 0
    assert _result(client, "datastore_search", resource_id=loaded.id, q="_")["total"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"filters": {"nope": 1}}, "filters"),
        ({"filters": {"設置台数": "two"}}, "filters"),
        ({"filters": {"設置開始日": "令和4年1月1日"}}, "filters"),
        ({"filters": {"名称": {"a": 1}}}, "filters"),
        ({"filters": "[1]"}, "filters"),
        ({"filters": "{not json"}, "filters"),
        ({"fields": ["名称", "nope"]}, "fields"),
        ({"fields": 3}, "fields"),
        ({"sort": "nope desc"}, "sort"),
        ({"q": {"nope": "x"}}, "q"),
        ({"limit": 32001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_search_rejects_bad_parameters_in_ckan_envelope(
    client: TestClient, loaded: Distribution, params: dict[str, Any], field: str
) -> None:
    status, body = _call(client, "datastore_search", resource_id=loaded.id, **params)
    assert status == 409 and body["success"] is False
    assert body["error"]["__type"] == "Validation Error"
    assert field in body["error"]


def test_unknown_or_unloaded_or_private_resources_are_not_found(
    client: TestClient, session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    status, body = _call(client, "datastore_search", resource_id="no-such-id")
    assert status == 404 and body["error"]["__type"] == "Not Found Error"
    unloaded = make_resource(session, org_token[0], name="unloaded")
    session.commit()
    status, body = _call(client, "datastore_search", resource_id=unloaded.id)
    assert status == 404 and "no datastore table" in body["error"]["message"]
    private = make_resource(session, org_token[0], name="private-aed", private=True)
    load_file(session, private, write_csv(tmp_path / "p.csv", [AED_HEADER, *AED_ROWS]))
    session.commit()
    assert _call(client, "datastore_search", resource_id=private.id)[0] == 404
    response = client.post(
        "/api/3/action/datastore_search", json={"resource_id": private.id},
        headers={"Authorization": org_token[1]},
    )  # fmt: skip
    assert response.status_code == 200 and response.json()["result"]["total"] == 3
    status, body = _call(client, "datastore_search")
    assert status == 409 and "resource_id" in body["error"]


def test_info_reports_rejected_rows_and_the_validation(
    client: TestClient, loaded: Distribution
) -> None:
    result = _result(client, "datastore_info", id=loaded.id)
    assert result["meta"]["count"] == 5 and result["meta"]["rejected_count"] == 1
    assert result["load_errors"] == [
        {"row": 7, "field": "設置台数", "message": result["load_errors"][0]["message"],
         "value": "x"}
    ]  # fmt: skip
    validation = result["validation"]
    assert validation["valid"] is False
    assert [(e["row"], e["field"], e["type"]) for e in validation["errors"]] == [
        (7, "設置台数", "type-error")
    ]
    assert validation["schema"]["fields"][4] == {"name": "設置台数", "type": "integer"}


def test_delete_needs_a_token_of_the_owner(
    client: TestClient, session: Session, loaded: Distribution
) -> None:
    assert _call(client, "datastore_delete", resource_id=loaded.id)[0] == 403
    other = create_organization(session, "other-city", "他市", corporate_number="2000012010019")
    _, other_token = create_token(session, other.name, "tests")
    session.commit()
    response = client.post(
        "/api/3/action/datastore_delete", json={"resource_id": loaded.id},
        headers={"Authorization": other_token},
    )  # fmt: skip
    assert response.status_code == 403
    assert client.get(f"/api/3/action/datastore_delete?resource_id={loaded.id}").status_code == 400


def test_delete_drops_the_table(
    client: TestClient, loaded: Distribution, org_token: tuple[Caller, str]
) -> None:
    response = client.post(
        "/api/3/action/datastore_delete", json={"resource_id": loaded.id},
        headers={"Authorization": org_token[1]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert _call(client, "datastore_search", resource_id=loaded.id)[0] == 404
    assert _result(client, "resource_show", id=loaded.id)["id"] == loaded.id
