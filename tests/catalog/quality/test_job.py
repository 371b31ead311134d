"""The quality job over a catalog whose files a loopback server serves: URL checks with
timeouts, file checks of the real samples, MQA and 5-star scores, the API and the dashboard."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.catalog.conftest import sample_dataset
from tests.conftest import SHARED
from tsunagu.accounts import Caller
from tsunagu.catalog import Group, create_dataset, parse_dataset
from tsunagu.catalog.quality.models import FileCheck, QualitySnapshot, UrlCheck
from tsunagu.catalog.quality.mqa import MAX_POINTS, indicators, rating, score_dataset
from tsunagu.catalog.quality.services import run_quality
from tsunagu.catalog.quality.stars import stars
from tsunagu.catalog.quality.urls import check_urls, new_client

SAMPLES = SHARED / "jp-open-data-samples"
FILES = {
    "/yohairyosya.csv": SAMPLES / "yaizu-city/yohairyosya.csv",
    "/R2.xlsx": SAMPLES / "soumu-xlsx/R2.xlsx",
    "/H17.xls": SAMPLES / "soumu-xlsx/H17.xls",
}


class _Server:
    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: bool) -> None:
                if self.path == "/slow.csv":
                    time.sleep(2)  # longer than the client's timeout in these tests
                path = FILES.get(self.path)
                if self.path == "/no-head.csv" and self.command == "HEAD":
                    self.send_response(405)
                    self.end_headers()
                    return
                if path is None and self.path != "/no-head.csv":
                    self.send_response(404)
                    self.end_headers()
                    return
                data = path.read_bytes() if path else b"a,b\n1,2\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _resource(url: str, fmt: str, **extra: Any) -> dict[str, Any]:
    return {"name": url.rsplit("/", 1)[-1], "url": url, "format": fmt} | extra


@pytest.fixture
def catalog(
    session: Session, org_token: tuple[Caller, str], server: _Server, population_group: Group
) -> Session:
    caller = org_token[0]
    base = server.url
    create_dataset(session, caller, parse_dataset(sample_dataset(
        name="yaizu-care-facilities", title="要配慮者利用施設",
        resources=[_resource(base + "/yohairyosya.csv", "CSV", mimetype="text/csv", size=48250),
                   _resource(base + "/H17.xls", "XLS")],
    )))  # fmt: skip
    create_dataset(session, caller, parse_dataset(sample_dataset(
        name="finance-indicators", title="主要財政指標", tags=[], groups=[], municipalities=[],
        temporal_start=None, temporal_end=None,
        resources=[_resource(base + "/R2.xlsx", "XLSX"), _resource(base + "/report.pdf", "PDF"),
                   _resource(base + "/slow.csv", "CSV"), _resource(base + "/no-head.csv", "CSV")],
    )))  # fmt: skip
    session.commit()
    return session


def test_url_checks_store_status_timeouts_and_head_fallback(
    catalog: Session, server: _Server
) -> None:
    with new_client(timeout=0.5) as client:
        counts = check_urls(catalog, client)
    assert counts == {"checked": 6, "ok": 4, "failed": 2}
    rows = {r.url.removeprefix(server.url): r for r in catalog.scalars(select(UrlCheck))}
    assert rows["/yohairyosya.csv"].status_code == 200
    assert rows["/no-head.csv"].status_code == 200  # HEAD refused, GET answered
    assert rows["/report.pdf"].status_code == 404
    assert rows["/slow.csv"].status_code is None and rows["/slow.csv"].error == "timed out"
    with new_client(timeout=0.5) as client:  # fresh answers are not asked again
        from datetime import timedelta

        assert check_urls(catalog, client, max_age=timedelta(hours=1))["checked"] == 0


def test_quality_job_checks_files_scores_and_snapshots(
    catalog: Session, server: _Server, client: TestClient
) -> None:
    with new_client(timeout=0.5) as http:
        check_urls(catalog, http)
        counts = run_quality(catalog, http, max_bytes=10_000_000, base="http://test")
    assert (counts.files, counts.failed, counts.datasets) == (6, 2, 2)
    checks = {c.distribution_pk: c for c in catalog.scalars(select(FileCheck))}
    by_status = sorted((c.status, c.format) for c in checks.values())
    assert by_status == [("checked", "CSV"), ("checked", "CSV"), ("checked", "XLSX"),
                         ("failed", "CSV"), ("failed", "XLS"), ("not-table", "PDF")]  # fmt: skip
    errors = sorted(c.error for c in checks.values() if c.status == "failed")
    assert "legacy Excel" in errors[0] and "no answer in time" in errors[1]
    csv_check = next(c for c in checks.values() if c.encoding == "cp932")
    assert csv_check.finding_count == 7 and csv_check.rows == 278
    assert {(f["rule"], f["column"], f["value"]) for f in csv_check.findings} >= {
        ("1-10", "A", "№"), ("1-10", "I", "① ④ ② ⑥ ⑤ ③")}  # fmt: skip
    snaps = catalog.scalars(select(QualitySnapshot)).all()
    assert sorted((s.scope, s.key) for s in snaps) == [
        ("catalog", ""), ("dataset", "finance-indicators"), ("dataset", "yaizu-care-facilities"),
        ("organization", "test-org")]  # fmt: skip
    care = next(s for s in snaps if s.key == "yaizu-care-facilities")
    # CSV under CC BY: 3 stars; XLS: 2 → mean 2.5.
    assert care.stars == 2.5 and care.findings == 7
    finance = next(s for s in snaps if s.key == "finance-indicators")
    assert care.mqa_points > finance.mqa_points  # no keywords, themes, spatial or temporal
    assert care.indicators["keywordAvailability"] == 30
    assert finance.indicators["keywordAvailability"] == 0
    # Both files answer 2xx; of finance's four, the PDF is 404 and slow.csv times out.
    assert care.indicators["accessUrlStatusCode"] == 50
    assert finance.indicators["accessUrlStatusCode"] == 25
    catalog_snap = next(s for s in snaps if s.scope == "catalog")
    assert catalog_snap.mqa_points == pytest.approx(
        (care.mqa_points + finance.mqa_points) / 2, 0.01
    )

    api = client.get("/api/v1/quality").json()
    assert api["latest"]["datasets"] == 2 and len(api["trend"]) == 1
    assert api["organizations"][0]["name"] == "test-org"
    worst = api["worst_files"][0]
    assert worst["dataset"] == "yaizu-care-facilities" and worst["finding_count"] == 7
    org = client.get("/api/v1/quality/organizations/test-org").json()
    assert [d["name"] for d in org["datasets"]] == ["finance-indicators", "yaizu-care-facilities"]
    one = client.get("/api/v1/quality/datasets/yaizu-care-facilities").json()
    assert one["mqa"]["max_points"] == MAX_POINTS
    assert [d["stars"] for d in one["distributions"]] == [3, 2]
    assert one["distributions"][0]["check"]["finding_count"] == 7
    assert client.get("/api/v1/quality/organizations/nobody").status_code == 404
    assert client.get("/api/v1/quality/datasets/nothing").status_code == 404

    page = client.get("/quality?lang=ja")
    assert page.status_code == 200
    assert (
        "機種依存文字" in page.text and "要配慮者利用施設" in page.text and "<polyline" in page.text
    )
    page_en = client.get("/quality/test-org?lang=en")
    assert page_en.status_code == 200 and "Platform-dependent characters" in page_en.text
    assert "<script>" not in page_en.text and "style=" not in page_en.text


def test_dashboard_before_any_run(client: TestClient, org_token: tuple[Caller, str]) -> None:
    assert client.get("/api/v1/quality").json()["latest"] is None
    assert "tsunagu catalog quality" in client.get("/quality?lang=en").text
    assert client.get("/quality/test-org").status_code == 200
    assert client.get("/quality/nobody").status_code == 404


def test_upload_check_needs_a_token_and_reports_bad_files(
    client: TestClient, org_token: tuple[Caller, str]
) -> None:
    body = (SAMPLES / "yaizu-city/machinakasuzumidokoro.csv").read_bytes()
    assert client.post("/api/v1/quality/check", content=body).status_code == 401
    auth = {"Authorization": org_token[1]}
    ok = client.post("/api/v1/quality/check?lang=en", content=body, headers=auth)
    assert ok.status_code == 200
    found = {(f["rule"], f["column"], f["value"]) for f in ok.json()["findings"]}
    assert ("1-13", "X", "―") in found
    assert ok.json()["encoding"] == "utf-8-sig"
    broken = client.post("/api/v1/quality/check", content=b"PK\x03\x04broken", headers=auth)
    assert broken.status_code == 422
    assert broken.json()["type"].endswith("#quality-unreadable-file")
    latin = client.post("/api/v1/quality/check", content="é,à\n".encode("cp1252") * 50,
                        headers=auth)  # fmt: skip
    assert latin.json()["type"].endswith("#quality-unknown-encoding")
    assert (
        client.post("/api/v1/quality/check?lang=xx", content=body, headers=auth).status_code == 422
    )


def test_rules_endpoint_lists_the_15_rules_and_405_points(client: TestClient) -> None:
    data = client.get("/api/v1/quality/rules").json()
    assert [r["id"] for r in data["machine_readability"]] == [
        "1-1", "1-2", "1-3", "1-4", "1-5", "1-6", "1-7", "1-8", "1-9", "1-10", "1-11", "1-12",
        "1-13", "2-1", "2-2"]  # fmt: skip
    assert sum(i["max_points"] for i in data["mqa_indicators"]) == MAX_POINTS == 405


def test_mqa_ratings_and_five_stars() -> None:
    assert len(indicators()) == 23
    bands = ["Excellent", "Excellent", "Good", "Good", "Sufficient", "Sufficient", "Bad", "Bad"]
    assert [rating(p) for p in (405, 351, 350.4, 221, 220, 121, 120, 0)] == bands
    assert stars("CSV", open_licence=True, has_url=True) == 3
    assert stars("xlsx", open_licence=True, has_url=True) == 2
    assert stars("PDF", open_licence=True, has_url=True) == 1
    assert stars("Turtle", open_licence=True, has_url=True) == 4
    assert stars("JSON-LD", open_licence=True, has_url=True, links_out=True) == 5
    assert stars("CSV", open_licence=False, has_url=True) == 0


def test_mqa_points_of_a_complete_dataset(
    session: Session, org_token: tuple[Caller, str], population_group: Group
) -> None:
    ds = create_dataset(session, org_token[0], parse_dataset(sample_dataset(resources=[
        {"name": "a", "url": "https://example.jp/a.csv", "download_url": "https://example.jp/a.csv",
         "format": "CSV", "mimetype": "text/csv", "size": 10}])))  # fmt: skip
    session.flush()
    ok = score_dataset(ds, lambda url: 200, base="http://test")
    down = score_dataset(ds, lambda url: None, base="http://test")
    assert ok.total - down.total == 50 + 30  # both URL-status indicators
    # accessRights and rights are never exported; everything else is earned (the group
    # 人口・世帯 becomes the EU theme SOCI).
    missing = {m for m, p in ok.points.items() if p == 0}
    assert missing == {"accessRightsAvailability", "accessRightsVocabularyAlignment",
                       "rightsAvailability"}  # fmt: skip
    assert ok.total == 405 - 10 - 5 - 5
    assert ok.rating == "Excellent" and down.rating == "Good"
