"""CKAN Action API behaviour through the in-process client (reads, writes, envelopes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.catalog.conftest import sample_dataset
from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.catalog import Group

API = "/api/3/action/"
Check = Callable[[str, Any], list[str]]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


def create(client: TestClient, token: str, **overrides: Any) -> dict[str, Any]:
    response = client.post(
        API + "package_create", json=sample_dataset(**overrides), headers=auth(token)
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def show(client: TestClient, name: str, token: str | None = None) -> dict[str, Any]:
    headers = auth(token) if token else {}
    body: dict[str, Any] = client.get(
        API + "package_show", params={"id": name}, headers=headers
    ).json()
    return body


@pytest.fixture
def published(
    client: TestClient, org_token: tuple[Caller, str], population_group: Group
) -> dict[str, Any]:
    return create(client, org_token[1])


class TestEnvelope:
    def test_success_has_help_success_and_result(self, client: TestClient) -> None:
        body = client.get(API + "status_show").json()
        assert body["success"] is True
        assert body["help"].endswith("/api/3/action/help_show?name=status_show")
        assert body["result"]["ckan_version"].startswith("2.")

    def test_unknown_action_is_a_not_found_envelope(self, client: TestClient) -> None:
        response = client.get(API + "no_such_action")
        assert response.status_code == 404
        body = response.json()
        assert body["success"] is False
        assert body["error"]["__type"] == "Not Found Error"

    def test_action_alias_without_version_answers_the_same(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        versioned = client.get(API + "package_show", params={"id": published["name"]}).json()
        alias = client.get("/api/action/package_show", params={"id": published["name"]}).json()
        assert alias["result"] == versioned["result"]

    def test_errors_on_the_alias_use_the_ckan_envelope(self, client: TestClient) -> None:
        response = client.get("/api/action/package_show", params={"id": "missing"})
        assert response.status_code == 404
        assert response.json()["error"]["__type"] == "Not Found Error"

    @pytest.mark.parametrize(
        ("action", "body", "field"),
        [
            ("package_show", '{"id": "x\\ud800"}', "id"),
            ("organization_show", '{"id": "\\udc80"}', "id"),
            ("package_search", '{"q": "a", "fq": "tags:\\ud800"}', "fq"),
            ("package_show", '{"id": "x\\u0000y"}', "id"),
        ],
    )
    def test_a_lone_surrogate_or_nul_in_a_parameter_is_a_validation_error(
        self, client: TestClient, action: str, body: str, field: str
    ) -> None:
        """JSON can carry "\\ud800", which is no Unicode text: package_show and
        organization_show failed to encode it for the database (500)."""
        response = client.post(
            API + action, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["__type"] == "Validation Error" and field in error, error

    def test_help_show_returns_the_action_documentation(self, client: TestClient) -> None:
        body = client.get(API + "help_show", params={"name": "package_search"}).json()
        assert "facet.field" in body["result"]


class TestReads:
    def test_package_show_uses_ckan_field_names(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        result = show(client, "population-2024")["result"]
        assert result["type"] == "dataset" and result["state"] == "active"
        assert result["organization"]["name"] == "test-org"
        assert result["license_title"] and result["isopen"] is True
        assert [t["name"] for t in result["tags"]] == ["人口", "統計"]
        assert result["groups"][0]["name"] == "population"
        assert result["num_resources"] == 1 and result["num_tags"] == 2
        resource = result["resources"][0]
        assert resource["package_id"] == result["id"] and resource["position"] == 0
        assert resource["data_dictionary"][0]["label_ja"] == "人口"
        assert result["extras"] == [{"key": "spatial_note", "value": "東京都"}]
        assert result["municipalities"] == ["131016"]

    def test_timestamps_are_iso_without_offset_like_ckan(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        stamp = published["metadata_modified"]
        assert "T" in stamp and not stamp.endswith("Z") and "+" not in stamp

    def test_package_show_by_id_equals_by_name(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        assert show(client, published["id"])["result"] == show(client, published["name"])["result"]

    def test_package_list_names_public_datasets(
        self, client: TestClient, org_token: tuple[Caller, str], published: dict[str, Any]
    ) -> None:
        create(client, org_token[1], name="secret", private=True, groups=[])
        assert client.get(API + "package_list").json()["result"] == ["population-2024"]

    def test_private_dataset_is_hidden_from_anonymous_and_other_orgs(
        self, client: TestClient, session: Session, org_token: tuple[Caller, str],
        population_group: Group,
    ) -> None:  # fmt: skip
        create(client, org_token[1], name="secret", private=True)
        create_organization(session, "other-org", "他市")
        _, other = create_token(session, "other-org")
        session.commit()
        assert show(client, "secret")["error"]["__type"] == "Not Found Error"
        assert show(client, "secret", other)["success"] is False
        assert show(client, "secret", org_token[1])["result"]["private"] is True

    def test_organization_list_and_all_fields(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        assert client.get(API + "organization_list").json()["result"] == ["test-org"]
        full = client.get(API + "organization_list", params={"all_fields": "true"}).json()
        assert full["result"][0]["package_count"] == 1
        assert full["result"][0]["title"] == "テスト市"

    def test_organization_show_by_name_id_or_corporate_number(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        by_name = client.get(API + "organization_show", params={"id": "test-org"}).json()
        org_id = by_name["result"]["id"]
        by_id = client.get(API + "organization_show", params={"id": org_id}).json()
        by_number = client.get(API + "organization_show", params={"id": "8000012050001"}).json()
        assert by_name["result"] == by_id["result"] == by_number["result"]
        assert by_name["result"]["package_count"] == 1

    def test_organization_show_can_include_datasets(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        params = {"id": "test-org", "include_datasets": "true"}
        result = client.get(API + "organization_show", params=params).json()["result"]
        assert [p["name"] for p in result["packages"]] == ["population-2024"]

    def test_group_list_tag_list_and_license_list(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        assert client.get(API + "group_list").json()["result"] == ["population"]
        groups = client.get(API + "group_list", params={"all_fields": True}).json()["result"]
        assert groups[0]["package_count"] == 1 and groups[0]["title"] == "人口・世帯"
        assert client.get(API + "tag_list").json()["result"] == ["人口", "統計"]
        assert client.get(API + "tag_list", params={"query": "統"}).json()["result"] == ["統計"]
        licenses = client.get(API + "license_list").json()["result"]
        assert {"id", "title", "url", "od_conformance"} <= set(licenses[0])
        assert "cc-by-4.0" in {lic["id"] for lic in licenses}

    def test_resource_show(self, client: TestClient, published: dict[str, Any]) -> None:
        resource_id = published["resources"][0]["id"]
        result = client.get(API + "resource_show", params={"id": resource_id}).json()["result"]
        assert result["format"] == "CSV" and result["package_id"] == published["id"]
        missing = client.get(API + "resource_show", params={"id": "nope"})
        assert missing.status_code == 404

    def test_post_with_json_body_reads_like_get(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        posted = client.post(API + "package_show", json={"id": "population-2024"}).json()
        assert posted["result"]["name"] == "population-2024"

    def test_post_form_encoded_reads_like_get(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        posted = client.post(API + "package_show", data={"id": "population-2024"}).json()
        assert posted["result"]["name"] == "population-2024"

    def test_json_sent_as_a_form_is_read_as_json(
        self, client: TestClient, published: dict[str, Any]
    ) -> None:
        # What `curl -d '{"id": ...}'` sends; CKAN accepts it.
        response = client.post(
            API + "package_show",
            content=json.dumps({"id": "population-2024"}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.json()["result"]["name"] == "population-2024"


class TestSearch:
    @pytest.fixture(autouse=True)
    def _catalog(
        self, client: TestClient, org_token: tuple[Caller, str], population_group: Group
    ) -> None:
        token = org_token[1]
        create(client, token)
        create(client, token, name="tax-revenue", title="都税収入の推移", notes="税目別の収入額",
               tags=[{"name": "財政"}],
               groups=[], municipalities=[], license_id="gov-std-2.0",
               resources=[{"name": "収入", "format": "XLSX"}])  # fmt: skip
        create(client, token, name="hidden", title="非公開の人口", private=True)

    def search(self, client: TestClient, **params: Any) -> dict[str, Any]:
        body: dict[str, Any] = client.get(API + "package_search", params=params).json()
        return body

    def test_query_finds_japanese_words(self, client: TestClient) -> None:
        result = self.search(client, q="人口")["result"]
        assert [r["name"] for r in result["results"]] == ["population-2024"]
        assert result["count"] == 1

    def test_match_all_query(self, client: TestClient) -> None:
        assert self.search(client, q="*:*")["result"]["count"] == 2

    def test_facets_in_both_ckan_shapes(self, client: TestClient) -> None:
        fields = json.dumps(["organization", "res_format", "license_id"])
        result = self.search(client, **{"facet.field": fields})["result"]
        assert result["facets"]["res_format"] == {"CSV": 1, "XLSX": 1}
        org = result["search_facets"]["organization"]
        assert org["items"] == [{"name": "test-org", "display_name": "テスト市", "count": 2}]
        licence = {
            i["name"]: i["display_name"] for i in result["search_facets"]["license_id"]["items"]
        }
        assert licence["gov-std-2.0"].startswith("政府標準利用規約")

    def test_facet_field_as_a_json_list_in_a_post_body(self, client: TestClient) -> None:
        body = {"facet.field": ["tags"], "facet.limit": 1}
        result = client.post(API + "package_search", json=body).json()["result"]
        assert len(result["search_facets"]["tags"]["items"]) == 1

    def test_fq_filters(self, client: TestClient) -> None:
        result = self.search(client, fq='tags:"財政"')["result"]
        assert [r["name"] for r in result["results"]] == ["tax-revenue"]
        result = self.search(client, fq="organization:test-org +res_format:CSV")["result"]
        assert [r["name"] for r in result["results"]] == ["population-2024"]

    def test_rows_start_and_sort(self, client: TestClient) -> None:
        first = self.search(client, sort="name asc", rows=1)["result"]
        second = self.search(client, sort="name asc", rows=1, start=1)["result"]
        assert first["count"] == 2 and first["sort"] == "name asc"
        assert [first["results"][0]["name"], second["results"][0]["name"]] == [
            "population-2024", "tax-revenue",
        ]  # fmt: skip

    def test_include_private_shows_own_private_datasets_only_with_token(
        self, client: TestClient, org_token: tuple[Caller, str]
    ) -> None:
        assert self.search(client, include_private="true")["result"]["count"] == 2
        response = client.get(
            API + "package_search", params={"include_private": "true"}, headers=auth(org_token[1])
        )
        assert response.json()["result"]["count"] == 3

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"rows": "1001"}, "rows"),
            ({"rows": "many"}, "rows"),
            ({"start": "-1"}, "start"),
            ({"facet.field": '["nope"]'}, "facet.field"),
            ({"facet.field": "organization"}, "facet.field"),
            ({"fq": "owner:x"}, "fq"),
            ({"fq": "tags"}, "fq"),
            ({"sort": "random()"}, "sort"),
            ({"q": "x" * 500}, "q"),
            ({"include_private": "maybe"}, "include_private"),
        ],
    )
    def test_bad_search_parameters_are_validation_errors(
        self, client: TestClient, params: dict[str, str], field: str
    ) -> None:
        response = client.get(API + "package_search", params=params)
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["__type"] == "Validation Error" and field in error

    @pytest.mark.parametrize(
        "q", ['"人口', "人口*", "人口 NEAR 統計", "'; DROP TABLE dataset;--", "\x00"]
    )
    def test_fts_syntax_in_the_query_is_plain_text(self, client: TestClient, q: str) -> None:
        response = client.get(API + "package_search", params={"q": q})
        assert response.status_code in (200, 409)
        assert response.json()["success"] is (response.status_code == 200)
