"""The real ckanapi client against a real uvicorn server; responses checked against the
data.gov.uk CKAN response JSON Schemas (alphagov/ckan-functional-tests, MIT, read from SHARED).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import ckanapi
import httpx
import pytest
from sqlalchemy.orm import Session

from tests.catalog.conftest import sample_dataset
from tests.conftest import LiveServer
from tsunagu.accounts import create_organization, create_token
from tsunagu.catalog import Group

Check = Callable[[str, Any], list[str]]


@pytest.fixture(scope="module")
def tokens(live_server: LiveServer) -> dict[str, str]:
    with Session(live_server.engine) as session:
        create_organization(session, "test-org", "テスト市", corporate_number="8000012050001")
        create_organization(session, "other-org", "他市")
        session.add(Group(name="population", title="人口・世帯"))
        _, own = create_token(session, "test-org", "live")
        _, other = create_token(session, "other-org", "live")
        session.commit()
    return {"own": own, "other": other}


@pytest.fixture(scope="module")
def ckan(live_server: LiveServer, tokens: dict[str, str]) -> Iterator[ckanapi.RemoteCKAN]:
    remote = ckanapi.RemoteCKAN(live_server.url, apikey=tokens["own"])
    yield remote
    remote.close()


@pytest.fixture(scope="module")
def published(ckan: ckanapi.RemoteCKAN) -> dict[str, Any]:
    result: dict[str, Any] = ckan.action.package_create(**sample_dataset())
    ckan.action.package_create(
        **sample_dataset(name="tax-revenue", title="都税収入の推移", notes="税目別", groups=[],
                         tags=[{"name": "財政"}], resources=[{"url": "x", "format": "XLSX"}])
    )  # fmt: skip
    return result


def envelope(live_server: LiveServer, action: str, **params: Any) -> Any:
    return httpx.get(f"{live_server.url}/api/3/action/{action}", params=params).json()


class TestCkanapiClient:
    def test_create_then_show(self, ckan: ckanapi.RemoteCKAN, published: dict[str, Any]) -> None:
        shown = ckan.action.package_show(id=published["name"])
        assert shown["id"] == published["id"] and shown["organization"]["name"] == "test-org"

    def test_get_only_client_reads(
        self, live_server: LiveServer, published: dict[str, Any]
    ) -> None:
        with ckanapi.RemoteCKAN(live_server.url, get_only=True) as anonymous:
            assert "population-2024" in anonymous.action.package_list()
            assert anonymous.action.organization_show(id="test-org")["package_count"] == 2

    def test_search_with_facets(self, ckan: ckanapi.RemoteCKAN, published: dict[str, Any]) -> None:
        result = ckan.action.package_search(
            q="人口", fq="organization:test-org", **{"facet.field": '["tags", "res_format"]'}
        )
        assert result["count"] == 1 and result["results"][0]["name"] == "population-2024"
        assert result["facets"]["tags"] == {"人口": 1, "統計": 1}

    def test_update_patch_delete(self, ckan: ckanapi.RemoteCKAN, published: dict[str, Any]) -> None:
        ckan.action.package_create(**sample_dataset(name="temporary", groups=[]))
        current = ckan.action.package_show(id="temporary")
        updated = ckan.action.package_update(**{**current, "title": "更新"})
        assert updated["title"] == "更新" and updated["id"] == current["id"]
        patched = ckan.action.package_patch(id="temporary", notes="差分")
        assert patched["notes"] == "差分" and patched["title"] == "更新"
        ckan.action.package_delete(id="temporary")
        with pytest.raises(ckanapi.NotFound):
            ckan.action.package_show(id="temporary")

    def test_errors_map_to_ckanapi_exceptions(
        self, live_server: LiveServer, ckan: ckanapi.RemoteCKAN, tokens: dict[str, str],
        published: dict[str, Any],
    ) -> None:  # fmt: skip
        with pytest.raises(ckanapi.NotFound):
            ckan.action.package_show(id="no-such-dataset")
        with pytest.raises(ckanapi.ValidationError) as invalid:
            ckan.action.package_create(**sample_dataset(name="bad", title=""))
        assert "title" in invalid.value.error_dict
        with pytest.raises(ckanapi.ValidationError):
            ckan.action.package_create(**sample_dataset())  # duplicate name
        other = ckanapi.RemoteCKAN(live_server.url, apikey=tokens["other"])
        with other, pytest.raises(ckanapi.NotAuthorized):
            other.action.package_patch(id="population-2024", title="乗っ取り")
        anonymous = ckanapi.RemoteCKAN(live_server.url)
        with anonymous, pytest.raises(ckanapi.NotAuthorized):
            anonymous.action.package_delete(id="population-2024")
        assert ckan.action.package_show(id="population-2024")["title"] == published["title"]

    def test_search_rows_over_the_limit(self, ckan: ckanapi.RemoteCKAN) -> None:
        with pytest.raises(ckanapi.ValidationError):
            ckan.action.package_search(rows=1001)


class TestResponseSchemas:
    """data.gov.uk's lenient CKAN schemas, except their PII key rule (see conftest)."""

    def test_package_show(
        self, live_server: LiveServer, published: dict[str, Any], ckan_schema: Check
    ) -> None:
        body = envelope(live_server, "package_show", id="population-2024")
        assert ckan_schema("package_show", body) == []

    def test_package_search(
        self, live_server: LiveServer, published: dict[str, Any], ckan_schema: Check
    ) -> None:
        body = envelope(
            live_server, "package_search", **{"facet.field": '["organization", "tags"]'}
        )
        assert body["result"]["count"] == 2
        assert ckan_schema("package_search", body) == []

    def test_package_list(
        self, live_server: LiveServer, published: dict[str, Any], ckan_schema: Check
    ) -> None:
        assert ckan_schema("package_list", envelope(live_server, "package_list")) == []

    def test_organization_list_and_show(
        self, live_server: LiveServer, published: dict[str, Any], ckan_schema: Check
    ) -> None:
        names = envelope(live_server, "organization_list")
        full = envelope(live_server, "organization_list", all_fields="true")
        shown = envelope(live_server, "organization_show", id="test-org")
        assert ckan_schema("organization_list", names) == []
        assert ckan_schema("organization_list", full) == []
        assert ckan_schema("organization_show", shown) == []

    def test_the_schemas_do_reject_a_broken_response(
        self, live_server: LiveServer, published: dict[str, Any], ckan_schema: Check
    ) -> None:
        body = envelope(live_server, "package_show", id="population-2024")
        del body["result"]["organization"]
        body["result"]["tags"][0].pop("id")
        assert len(ckan_schema("package_show", body)) == 2

    def test_real_data_gov_uk_samples_pass_the_same_check(self, ckan_schema: Check) -> None:
        import json

        from tests.catalog.conftest import SCHEMAS

        samples = SCHEMAS.parent
        for name in ("package_show", "package_search", "organization_show", "organization_list"):
            body = json.loads((samples / f"{name}.json").read_text())
            assert ckan_schema(name, body) == [], name
