"""REST API /api/v1: datasets, organizations, licences, code lists; problem+json errors."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.catalog.conftest import sample_dataset
from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.catalog import CodeList, CodeListEntry, Dataset, Group

V1 = "/api/v1"
PROBLEM = "application/problem+json"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


@pytest.fixture
def token(org_token: tuple[Caller, str], population_group: Group) -> str:
    return org_token[1]


@pytest.fixture
def catalog(client: TestClient, token: str) -> None:
    for data in (
        sample_dataset(),
        sample_dataset(name="tax-revenue", title="都税収入の推移", notes="税目別", groups=[],
                       tags=[{"name": "財政"}], resources=[{"url": "x", "format": "XLSX"}]),
        sample_dataset(name="bus-stops", title="バス停留所", notes="位置", groups=[],
                       tags=[{"name": "交通"}], license_id="gov-std-2.0", resources=[]),
    ):  # fmt: skip
        assert client.post(f"{V1}/datasets", json=data, headers=auth(token)).status_code == 201


def stored(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Dataset)) or 0


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].endswith("#" + slug) and body["detail"]
    return body


@pytest.mark.usefixtures("catalog")
class TestDatasetReads:
    def test_search_returns_items_total_and_facets(self, client: TestClient) -> None:
        body = client.get(f"{V1}/datasets", params={"q": "人口", "facet": ["tags"]}).json()
        assert body["total"] == 1 and body["items"][0]["name"] == "population-2024"
        assert {f["name"]: f["count"] for f in body["facets"]["tags"]} == {"人口": 1, "統計": 1}

    def test_filters_are_anded(self, client: TestClient) -> None:
        params: dict[str, Any] = {"license_id": "cc-by-4.0", "res_format": "CSV"}
        names = [d["name"] for d in client.get(f"{V1}/datasets", params=params).json()["items"]]
        assert names == ["population-2024"]
        params = {"organization": "test-org", "municipality": "131016", "groups": "population"}
        assert client.get(f"{V1}/datasets", params=params).json()["total"] == 1

    def test_paging_with_next_links(self, client: TestClient) -> None:
        first = client.get(f"{V1}/datasets", params={"sort": "name", "per_page": 2}).json()
        assert [d["name"] for d in first["items"]] == ["bus-stops", "population-2024"]
        assert first["links"]["prev"] is None and first["links"]["next"]
        second = client.get(first["links"]["next"]).json()
        assert [d["name"] for d in second["items"]] == ["tax-revenue"]
        assert second["links"]["next"] is None and second["links"]["prev"]
        by_page = client.get(f"{V1}/datasets", params={"sort": "name", "page": 2, "per_page": 2})
        assert by_page.json()["items"] == second["items"]

    def test_show_by_name(self, client: TestClient) -> None:
        body = client.get(f"{V1}/datasets/population-2024").json()
        assert body["organization"]["name"] == "test-org"
        assert body["resources"][0]["data_dictionary"][0]["name"] == "population"

    @pytest.mark.parametrize(
        "params",
        [{"rows": 1001}, {"facet": "nope"}, {"sort": "random"}, {"q": "x" * 300}, {"rows": "x"},
         {"page": 0}],
    )  # fmt: skip
    def test_bad_search_parameters_are_problems(
        self, client: TestClient, params: dict[str, Any]
    ) -> None:
        assert_problem(client.get(f"{V1}/datasets", params=params), 422, "validation-error")

    @pytest.mark.parametrize("q", ['"', "*", "a NEAR b", "'", "\x00"])
    def test_fts_syntax_in_q_never_fails(self, client: TestClient, q: str) -> None:
        assert client.get(f"{V1}/datasets", params={"q": q}).status_code in (200, 422)

    def test_missing_dataset_is_not_found(self, client: TestClient) -> None:
        assert_problem(client.get(f"{V1}/datasets/nope"), 404, "not-found")


class TestDatasetWrites:
    def test_create_answers_201_with_location(self, client: TestClient, token: str) -> None:
        response = client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token))
        assert response.status_code == 201
        assert response.headers["location"] == f"{V1}/datasets/population-2024"
        assert client.get(response.headers["location"]).json() == response.json()

    def test_put_back_what_was_read(self, client: TestClient, token: str) -> None:
        created = client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token)).json()
        body = {**created, "title": "改題"}
        response = client.put(f"{V1}/datasets/population-2024", json=body, headers=auth(token))
        assert response.status_code == 200 and response.json()["title"] == "改題"
        assert response.json()["resources"][0]["id"] == created["resources"][0]["id"]

    def test_delete(self, client: TestClient, session: Session, token: str) -> None:
        client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token))
        response = client.delete(f"{V1}/datasets/population-2024", headers=auth(token))
        assert response.status_code == 204
        assert_problem(client.get(f"{V1}/datasets/population-2024"), 404, "not-found")

    @pytest.mark.parametrize(
        ("change", "status", "slug"),
        [
            ({"colour": "blue"}, 422, "validation-error"),
            ({"title": 42}, 422, "validation-error"),
            ({"title": "長" * 501}, 422, "validation-error"),
            ({"notes": "a\x00b"}, 422, "validation-error"),
            ({"license_id": "wtfpl"}, 422, "validation-error"),
            ({"owner_org": "no-such-org"}, 422, "validation-error"),
            ({"owner_org": "9000012050001"}, 422, "validation-error"),
        ],
    )
    def test_bad_bodies_are_problems_and_change_nothing(
        self, client: TestClient, session: Session, token: str, change: dict[str, Any],
        status: int, slug: str,
    ) -> None:  # fmt: skip
        created = client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token)).json()
        new = client.post(
            f"{V1}/datasets", json=sample_dataset(name="another", **change), headers=auth(token)
        )
        assert_problem(new, status, slug)
        put = client.put(
            f"{V1}/datasets/population-2024", json={**created, **change}, headers=auth(token)
        )
        assert_problem(put, status, slug)
        assert stored(session) == 1
        assert client.get(f"{V1}/datasets/population-2024").json() == created

    def test_invalid_json_is_bad_request(
        self, client: TestClient, session: Session, token: str
    ) -> None:
        response = client.post(
            f"{V1}/datasets",
            content=b"{nope",
            headers={**auth(token), "Content-Type": "application/json"},
        )
        assert_problem(response, 400, "bad-request")
        assert stored(session) == 0

    def test_duplicate_name_is_conflict(
        self, client: TestClient, session: Session, token: str
    ) -> None:
        client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token))
        again = client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token))
        assert_problem(again, 409, "conflict")
        assert stored(session) == 1

    def test_writes_need_a_token_of_the_owner(
        self, client: TestClient, session: Session, token: str
    ) -> None:
        created = client.post(f"{V1}/datasets", json=sample_dataset(), headers=auth(token)).json()
        create_organization(session, "other-org", "他市")
        _, other = create_token(session, "other-org")
        session.commit()
        path = f"{V1}/datasets/population-2024"
        assert_problem(client.post(f"{V1}/datasets", json=sample_dataset()), 401, "unauthorized")
        assert_problem(client.put(path, json=created), 401, "unauthorized")
        assert_problem(client.delete(path), 401, "unauthorized")
        assert_problem(client.put(path, json=created | {"title": "x"}, headers=auth(other)), 403,
                       "forbidden")  # fmt: skip
        assert_problem(client.delete(path, headers=auth(other)), 403, "forbidden")
        new = sample_dataset(name="into-other")
        assert_problem(
            client.post(f"{V1}/datasets", json=new, headers=auth(other)), 403, "forbidden"
        )
        assert stored(session) == 1
        assert client.get(path).json() == created


class TestOtherResources:
    def test_organizations(self, client: TestClient, catalog: None) -> None:
        body = client.get(f"{V1}/organizations").json()
        assert body["total"] == 1 and body["items"][0]["package_count"] == 3
        shown = client.get(f"{V1}/organizations/8000012050001").json()
        assert shown["name"] == "test-org" and shown["corporate_number"] == "8000012050001"
        assert_problem(client.get(f"{V1}/organizations/nope"), 404, "not-found")

    def test_licenses(self, client: TestClient) -> None:
        licenses = {lic["id"]: lic for lic in client.get(f"{V1}/licenses").json()}
        assert licenses["cc-by-4.0"]["eu_uri"].endswith("CC_BY_4_0")
        assert licenses["cc-by-nc-4.0"]["is_okd_compliant"] is False

    def test_code_lists_latest_and_by_version(self, client: TestClient, session: Session) -> None:
        for version, issued, label in (
            ("2020", date(2020, 1, 1), "旧"),
            ("2024", date(2024, 1, 1), "新"),
        ):
            row = CodeList(name="prefecture", version=version, title="都道府県", issued=issued)
            row.entries = [CodeListEntry(code="13", label=label + "東京都")]
            session.add(row)
        session.commit()
        listed = client.get(f"{V1}/code-lists").json()
        assert [(c["name"], c["version"], c["versions"]) for c in listed] == [
            ("prefecture", "2024", ["2024", "2020"])
        ]
        latest = client.get(f"{V1}/code-lists/prefecture").json()
        assert latest["version"] == "2024" and latest["entries"][0]["label"] == "新東京都"
        old = client.get(f"{V1}/code-lists/prefecture", params={"version": "2020"}).json()
        assert old["entries"][0]["label"] == "旧東京都"
        missing = client.get(f"{V1}/code-lists/prefecture", params={"version": "1999"})
        assert_problem(missing, 404, "not-found")

    def test_nul_in_the_path_is_a_problem_not_a_crash(self, client: TestClient) -> None:
        assert_problem(client.get(f"{V1}/datasets/a%00b"), 422, "validation-error")


def test_openapi_documents_the_rest_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    documented = {
        "/api/v1/datasets", "/api/v1/datasets/{name}", "/api/v1/organizations",
        "/api/v1/licenses", "/api/v1/code-lists/{name}", "/api/3/action/{action}",
    }  # fmt: skip
    assert documented <= set(spec["paths"])
    ok = spec["paths"]["/api/v1/datasets"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/DatasetPage")
    assert "DatasetBody" in spec["components"]["schemas"]
