"""Dataset writes and reads at the edges of what can be stored or followed: date-times whose
UTC falls outside years 1 to 9999, and URLs a browser would run."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.catalog.conftest import sample_dataset
from tsunagu.accounts import Caller
from tsunagu.catalog import Group

API = "/api/3/action/"
EDGES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


def _auth(token: tuple[Caller, str]) -> dict[str, str]:
    return {"Authorization": token[1]}


@pytest.mark.parametrize("moment", EDGES)
def test_a_date_time_out_of_range_in_utc_is_refused(
    client: TestClient, org_token: tuple[Caller, str], population_group: Group, moment: str
) -> None:
    rest = client.post("/api/v1/datasets", json=sample_dataset(issued=moment),
                       headers=_auth(org_token))  # fmt: skip
    assert rest.status_code == 422, rest.text
    assert rest.headers["content-type"] == "application/problem+json"
    assert "issued is out of range" in rest.json()["detail"]
    ckan = client.post(API + "package_create", json=sample_dataset(modified=moment),
                       headers=_auth(org_token))  # fmt: skip
    body: dict[str, Any] = ckan.json()
    assert ckan.status_code in (400, 409) and body["success"] is False, ckan.text
    assert client.get("/api/v1/datasets/population-2024").status_code == 404  # nothing stored


@pytest.mark.parametrize("moment", EDGES)
def test_as_of_out_of_range_in_utc_is_a_bad_request(
    client: TestClient, org_token: tuple[Caller, str], population_group: Group, moment: str
) -> None:
    made = client.post("/api/v1/datasets", json=sample_dataset(), headers=_auth(org_token))
    assert made.status_code == 201, made.text
    answer = client.get("/api/v1/datasets/population-2024", params={"as_of": moment})
    assert answer.status_code == 400, answer.text
    assert "out of range" in answer.json()["detail"]
    ckan = client.get(API + "package_show", params={"id": "population-2024", "as_of": moment})
    assert ckan.status_code == 400 and ckan.json()["success"] is False, ckan.text


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", " JaVa\tScRiPt:alert(1)", "data:text/html,<b>x</b>",
            "vbscript:msgbox(1)"],
)  # fmt: skip
def test_urls_a_browser_would_run_are_refused(
    client: TestClient, org_token: tuple[Caller, str], population_group: Group, url: str
) -> None:
    for body in (
        sample_dataset(url=url),
        sample_dataset(resources=[{**sample_dataset()["resources"][0], "url": url}]),
    ):
        answer = client.post("/api/v1/datasets", json=body, headers=_auth(org_token))
        assert answer.status_code == 422, answer.text
        assert "URL is not allowed" in answer.json()["detail"]
    assert client.get("/api/v1/datasets/population-2024").status_code == 404


def test_other_schemes_stay_allowed(
    client: TestClient, org_token: tuple[Caller, str], population_group: Group
) -> None:
    resource = {**sample_dataset()["resources"][0], "url": "ftp://ftp.example.jp/p.csv"}
    body = sample_dataset(url="mailto:toukei@example.jp", resources=[resource])
    made = client.post("/api/v1/datasets", json=body, headers=_auth(org_token))
    assert made.status_code == 201, made.text
