"""Out-of-range numbers are refused with a clear error, never passed on to the database.

SQLite holds 64-bit integers: a larger offset or id used to crash the request (OverflowError).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.catalog.datastore_helpers import AED_HEADER, AED_ROWS, make_resource, write_csv
from tsunagu.accounts import Caller, create_organization, create_token
from tsunagu.catalog import Group
from tsunagu.catalog.datastore import load_file
from tsunagu.http import MAX_OFFSET

PROBLEM = "application/problem+json"
HUGE = (str(2**63), str(10**30))


def _problem(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body


def _ckan_error(response: Any, status: int = 409) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize("huge", HUGE)
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/laws", {"q": "法"}),
        ("/api/v1/corporations", {"name": "株式会社"}),
        ("/api/v1/corporations/diff", {"from": "2020-01-01", "to": "2026-01-01"}),
        ("/api/v1/datasets/some-dataset/versions", {}),
        ("/api/v1/organizations", {}),
    ],
)
def test_a_huge_offset_is_a_validation_problem(
    client: TestClient, path: str, params: dict[str, str], huge: str
) -> None:
    body = _problem(client.get(path, params={**params, "offset": huge}))
    assert "offset" in body["detail"]


@pytest.mark.parametrize("huge", HUGE)
def test_a_huge_resident_search_offset_is_a_validation_problem(
    client: TestClient, session: Session, huge: str
) -> None:
    create_organization(session, "bunkyo-ku", "文京区", lg_code="131059")
    _, token = create_token(session, "bunkyo-ku")
    session.commit()
    response = client.get(
        "/api/v1/residents/131059/persons",
        params={"offset": huge},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert "offset" in _problem(response)["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"start": str(2**63)},
        {"start": str(MAX_OFFSET + 1)},
        {"page": str(10**30)},
        {"page": str(MAX_OFFSET), "per_page": "1000"},  # page × per_page past the bound
    ],
)
def test_dataset_search_paging_is_bounded(client: TestClient, params: dict[str, str]) -> None:
    _problem(client.get("/api/v1/datasets", params=params))


def test_the_largest_offset_is_an_empty_page(client: TestClient) -> None:
    response = client.get("/api/v1/datasets", params={"start": str(MAX_OFFSET)})
    assert response.status_code == 200 and response.json()["items"] == []
    ckan = client.get("/api/3/action/package_list", params={"offset": str(MAX_OFFSET)})
    assert ckan.status_code == 200 and ckan.json()["result"] == []


def test_openapi_documents_the_bounds(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    def schema(path: str, name: str) -> dict[str, Any]:
        [param] = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name]
        return dict(param["schema"].get("anyOf", [param["schema"]])[0])

    for path, name in [
        ("/api/v1/laws", "offset"),
        ("/api/v1/corporations", "offset"),
        ("/api/v1/corporations/diff", "offset"),
        ("/api/v1/residents/{lg_code}/persons", "offset"),
        ("/api/v1/datasets/{name}/versions", "offset"),
        ("/api/v1/datasets", "start"),
        ("/api/v1/datasets", "page"),
    ]:
        assert schema(path, name)["maximum"] == MAX_OFFSET, (path, name)


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("package_list", {"limit": str(10**30)}),
        ("package_list", {"offset": str(2**63)}),
        ("package_list", {"offset": "9" * 5000}),  # int() itself refuses 4300+ digits
        ("package_list", {"limit": "²"}),  # isdigit() says yes, int() says no
        ("package_list", {"limit": "４２"}),  # full-width digits are not a number here
        ("package_list", {"offset": "--5"}),
        ("package_search", {"start": str(2**63)}),
        ("package_search", {"rows": "²"}),
        ("package_search", {"facet.limit": str(10**30)}),
        ("organization_list", {"offset": str(2**63)}),
        ("group_list", {"limit": "²"}),
    ],
)
def test_ckan_integers_out_of_range_or_not_ascii_are_validation_errors(
    client: TestClient, action: str, params: dict[str, str]
) -> None:
    error = _ckan_error(client.get(f"/api/3/action/{action}", params=params))
    assert error["__type"] == "Validation Error"
    assert next(iter(params)) in error


def test_ckan_integers_in_a_json_body_are_bounded_too(client: TestClient) -> None:
    response = client.post("/api/3/action/package_list", json={"offset": 2**63})
    assert _ckan_error(response)["__type"] == "Validation Error"


@pytest.mark.parametrize("ident", ["999999999999999999999", str(2**63), "²", "¹²"])
def test_an_organization_id_out_of_range_is_not_found(client: TestClient, ident: str) -> None:
    _problem(client.get(f"/api/v1/organizations/{ident}"), 404)
    error = _ckan_error(client.get("/api/3/action/organization_show", params={"id": ident}), 404)
    assert error["__type"] == "Not Found Error"


@pytest.mark.parametrize("ident", ["1000000000000000000000000000000", str(2**63), "²"])
def test_a_group_id_out_of_range_is_not_found(client: TestClient, ident: str) -> None:
    error = _ckan_error(client.get("/api/3/action/group_show", params={"id": ident}), 404)
    assert error["__type"] == "Not Found Error"


def _full_width(digits: str) -> str:
    return digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


def test_full_width_digits_are_not_an_id(
    client: TestClient, session: Session, org_token: tuple[Caller, str]
) -> None:
    org_id = str(org_token[0].organization_id)
    group = Group(name="population", title="人口・世帯")
    session.add(group)
    session.commit()
    assert client.get(f"/api/v1/organizations/{org_id}").json()["name"] == "test-org"
    _problem(client.get(f"/api/v1/organizations/{_full_width(org_id)}"), 404)
    show = client.get("/api/3/action/group_show", params={"id": str(group.id)})
    assert show.json()["result"]["name"] == "population"
    _ckan_error(
        client.get("/api/3/action/group_show", params={"id": _full_width(str(group.id))}), 404
    )


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_a_non_finite_number_in_a_ckan_body_is_a_validation_error(
    client: TestClient, number: str
) -> None:
    body = f'{{"resource_id": "x", "filters": {{"count": {number}}}, "q": {{"name": {number}}}}}'
    for action in ("package_search", "datastore_search"):
        response = client.post(
            f"/api/3/action/{action}", content=body, headers={"content-type": "application/json"}
        )
        error = _ckan_error(response)
        assert error["__type"] == "Validation Error" and number.lstrip("-") in error["message"]


def test_a_non_finite_filter_is_refused_not_echoed(
    client: TestClient, session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    resource = make_resource(session, org_token[0])
    load_file(session, resource, write_csv(tmp_path / "aed.csv", [AED_HEADER, *AED_ROWS]))
    session.commit()
    body = f'{{"resource_id": "{resource.id}", "filters": {{"NO": 1e400}}}}'
    response = client.post(
        "/api/3/action/datastore_search", content=body, headers={"content-type": "application/json"}
    )
    assert _ckan_error(response)["__type"] == "Validation Error"
