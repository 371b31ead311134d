"""The corporations API: JSON, NTA CSV/XML that our importer reads back, problem+json errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.registries.corporations import import_file
from tsunagu.registries.corporations.nta import parse_csv, parse_xml

NTA = SHARED / "corporate-number" / "nta-webapi-v4-samples"


@pytest.fixture
def loaded(session: Session) -> Session:
    for name in ("num.7010001008844.2026-07-10.xml", "num_1_ver4_x4.xml",
                 "diff_20190404_ver4_c2.csv", "name_ver4_c4.csv"):  # fmt: skip
        import_file(session, (NTA / name).read_bytes(), name)
    session.commit()
    return session


def test_lookup_by_number_history_and_as_of(client: TestClient, loaded: Session) -> None:
    body = client.get("/api/v1/corporations/7010001008844").json()
    assert body["name"] == "株式会社日立製作所" and body["lg_code"] == "131016"
    history = client.get("/api/v1/corporations/4111101000007?history=1").json()["history"]
    assert [h["process"] for h in history] == ["01", "12", "12"]
    old = client.get("/api/v1/corporations/4111101000007?as_of=2019-01-01").json()
    assert old["process"] == "01"


def test_name_search_and_diff(client: TestClient, loaded: Session) -> None:
    found = client.get("/api/v1/corporations", params={"name": "(株)日立製作所"}).json()
    assert [i["corporate_number"] for i in found["items"]] == ["7010001008844"]
    diff = client.get("/api/v1/corporations/diff?from=2019-04-04&to=2019-04-05").json()
    assert diff["total"] == 3


@pytest.mark.parametrize("fmt", ["csv", "xml"])
def test_nta_formats_round_trip_through_our_importer(
    client: TestClient, loaded: Session, fmt: str
) -> None:
    response = client.get(f"/api/v1/corporations/diff?from=2015-01-01&to=2030-01-01&format={fmt}")
    assert response.status_code == 200
    parsed = parse_csv(response.content) if fmt == "csv" else parse_xml(response.content)
    assert parsed.header.count == 14 and len(parsed.rows) == 14
    report = import_file(loaded, response.content, f"export.{fmt}")
    assert (report.inserted, report.unchanged, report.rejected) == (0, 14, 0)


def test_accept_header_picks_csv(client: TestClient, loaded: Session) -> None:
    response = client.get("/api/v1/corporations/7010001008844", headers={"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    assert "株式会社日立製作所" in response.text


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/corporations/2835678256246", 422),
        ("/api/v1/corporations/123", 422),
        ("/api/v1/corporations/8000012050001", 404),
        ("/api/v1/corporations/7010001008844?as_of=2015-13-01", 422),
        ("/api/v1/corporations/7010001008844?as_of=1990-01-01", 404),
        ("/api/v1/corporations/7010001008844?format=pdf", 422),
        ("/api/v1/corporations?name=", 422),
        ("/api/v1/corporations?name=株式会社", 200),
        ("/api/v1/corporations?name=x&match=regex", 422),
        ("/api/v1/corporations?name=%00", 422),
        ("/api/v1/corporations/diff?from=2020-01-01&to=2019-01-01", 422),
        ("/api/v1/corporations/diff?from=yesterday&to=2019-01-01", 422),
        ("/api/v1/corporations/diff?to=2019-01-01", 422),
    ],
)
def test_bad_input_is_problem_json_never_500(
    client: TestClient, loaded: Session, url: str, status: int
) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
