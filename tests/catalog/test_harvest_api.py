"""Harvest jobs in the API, the site and the CLI; harvested records export as valid DCAT-AP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.catalog.test_harvest import LIMITS, SAMPLES, _Server, server
from tests.conftest import SHARED, _new_database
from tsunagu.catalog.harvest.run import due_sources, ensure_source, run_harvest
from tsunagu.catalog.shacl import parse_rdf, validate_graph
from tsunagu.cli import main
from tsunagu.db import make_engine
from tsunagu.kernel import naive_utcnow

__all__ = ["server"]  # the loopback server fixture, shared with test_harvest


def test_jobs_show_in_the_api_and_the_site(
    session: Session, client: TestClient, server: _Server, org_token: tuple[object, str]
) -> None:
    source = ensure_source(session, server.url + "/de/catalog.rdf", "dcat", name="govdata")
    ok = run_harvest(session, source, LIMITS)
    broken = ensure_source(session, server.url + "/broken.ttl", "dcat", name="broken")
    failed = run_harvest(session, broken, LIMITS)
    listing = client.get("/api/v1/harvest/sources").json()["sources"]
    assert {s["name"]: s["last_job"]["status"] for s in listing} == {
        "broken": "failed", "govdata": "finished",
    }  # fmt: skip
    job = client.get(f"/api/v1/harvest/jobs/{ok.id}").json()
    assert job["inserted"] == ok.inserted > 0 and job["errors"] == []
    assert "malformed" in client.get(f"/api/v1/harvest/jobs/{failed.id}").json()["error"]
    assert client.get("/api/v1/harvest/jobs/999999").status_code == 404
    assert client.get("/api/v1/harvest/sources/govdata/jobs").json()["jobs"][0]["id"] == ok.id
    page = client.get("/harvest")
    assert page.status_code == 200 and "govdata" in page.text
    job_page = client.get(f"/harvest/{failed.id}")
    assert job_page.status_code == 200 and "malformed" in job_page.text
    assert "<script>" not in job_page.text and "style=" not in job_page.text
    # Registering a source needs a token.
    body = {"url": server.url + "/se/catalog.rdf", "type": "dcat", "name": "sweden"}
    assert client.post("/api/v1/harvest/sources", json=body).status_code == 401
    _, token = org_token
    made = client.post("/api/v1/harvest/sources", json=body, headers={"Authorization": token})
    assert made.status_code == 201 and made.json()["name"] == "sweden"


def test_harvested_records_export_as_valid_dcat_ap(
    session: Session, client: TestClient, server: _Server
) -> None:
    for name, path in (("govdata", "/de/catalog.rdf"), ("es", "/es/catalog.ttl"),
                       ("se", "/se/catalog.rdf"), ("hh", "/hh/catalog.rdf")):  # fmt: skip
        job = run_harvest(session, ensure_source(session, server.url + path, "dcat", name=name),
                          LIMITS)  # fmt: skip
        assert job.status == "finished"
    report = validate_graph(parse_rdf(client.get("/catalog.ttl").content, "turtle"))
    assert report.conforms and report.datasets >= 4


def test_scheduled_sources_run_when_due(session: Session, server: _Server) -> None:
    source = ensure_source(session, server.url + "/se/catalog.rdf", "dcat", name="se",
                           interval_minutes=60)  # fmt: skip
    ensure_source(session, server.url + "/es/catalog.ttl", "dcat", name="by-hand")
    assert [s.name for s in due_sources(session)] == ["se"]
    job = run_harvest(session, source, LIMITS)
    assert source.next_run == job.finished + timedelta(minutes=60)  # type: ignore[operator]
    assert due_sources(session) == []
    assert [s.name for s in due_sources(session, naive_utcnow() + timedelta(hours=2))] == ["se"]


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url, drop = _new_database(tmp_path, "cli")
    yield {"TSUNAGU_DATA_DIR": str(tmp_path), "TSUNAGU_DATABASE_URL": url, "TSUNAGU_CONFIG": ""}
    make_engine(url).dispose()
    drop()


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_validate_reports_by_dataset(cli_env: dict[str, str]) -> None:
    records = SHARED / "dcat-ap" / "test-records"
    code, out, _ = _run(cli_env, "catalog", "validate", str(records / "valid-minimal-ja.ttl"))
    assert code == 0 and out.startswith("conforms: yes")
    code, out, _ = _run(cli_env, "catalog", "validate",
                        str(records / "invalid-class-range-ja.ttl"))  # fmt: skip
    assert code == 1 and "vocabulary / class range" in out
    code, out, _ = _run(cli_env, "catalog", "validate", "--json",
                        str(records / "invalid-missing-mandatory-ja.ttl"))  # fmt: skip
    results = json.loads(out)["results"]
    assert code == 1 and sum(len(v["value"]) for v in results.values()) == 2


def test_cli_harvest_twice_and_export(
    cli_env: dict[str, str], server: _Server, tmp_path: Path
) -> None:
    url = server.url + "/uk"
    code, out, err = _run(cli_env, "catalog", "harvest", url, "--type", "ckan", "--name", "uk")
    assert code == 0, err
    assert "4 added" in out
    code, out, _ = _run(cli_env, "catalog", "harvest", url, "--type", "ckan", "--name", "uk")
    assert code == 0 and "0 added" in out and "4 unchanged" in out
    code, out, err = _run(cli_env, "catalog", "harvest", "http://127.0.0.1:9/x.ttl")
    assert code == 2 and "cannot be reached" in err
    code, out, _ = _run(cli_env, "catalog", "harvest", "--scheduled")
    assert code == 0 and "no harvest source is due" in out
    target = tmp_path / "catalog.ttl"
    code, _, _ = _run(cli_env, "catalog", "export", str(target))
    assert code == 0
    assert validate_graph(parse_rdf(target.read_bytes(), "turtle")).datasets == 4
    assert SAMPLES.exists()


def test_a_token_harvests_only_into_its_own_organization(
    session: Session, client: TestClient, org_token: tuple[object, str]
) -> None:
    """Through the API an organization's records go under that organization, and a source
    filed under another one cannot be changed: its URL would otherwise be anyone's to move."""
    from tsunagu.accounts import create_organization
    from tsunagu.catalog.harvest.models import HarvestSource

    create_organization(session, "other-city", "よそ市")
    theirs = ensure_source(
        session, "https://data.other.example/catalog.ttl", "dcat",
        name="theirs", organization="other-city", interval_minutes=60,
    )  # fmt: skip
    session.commit()
    _, token = org_token
    auth = {"Authorization": token}
    url = "https://evil.example/catalog.ttl"

    mine = {"url": "https://data.test.example/catalog.ttl", "type": "dcat"}
    made = client.post("/api/v1/harvest/sources", headers=auth, json=mine)
    assert made.status_code == 201 and made.json()["organization"] == "test-org"
    for body in (
        {"url": url, "type": "dcat", "name": "mine", "organization": "other-city"},
        {"url": url, "type": "dcat", "name": "theirs"},  # overwrite another's source
        {"url": url, "type": "dcat", "name": "theirs", "organization": "test-org"},
    ):
        refused = client.post("/api/v1/harvest/sources", json=body, headers=auth)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    session.expire_all()
    kept = session.get(HarvestSource, theirs.id)
    assert kept is not None
    assert (kept.url, kept.organization) == ("https://data.other.example/catalog.ttl", "other-city")
    assert session.query(HarvestSource).filter_by(name="mine").count() == 0


@pytest.mark.parametrize("interval", [4, 31 * 24 * 60 + 1, 2**63, 10**30])
def test_interval_and_job_id_out_of_range(
    client: TestClient, org_token: tuple[object, str], interval: int
) -> None:
    _, token = org_token
    body = {"url": "https://data.test.example/c.ttl", "type": "dcat", "interval_minutes": interval}
    answer = client.post("/api/v1/harvest/sources", json=body, headers={"Authorization": token})
    assert answer.status_code == 422, answer.text
    assert client.get("/api/v1/harvest/sources").json()["sources"] == []
    for job_id in (2**63, 10**30, 0):
        assert client.get(f"/api/v1/harvest/jobs/{job_id}").status_code == 404
        assert client.get(f"/harvest/{job_id}").status_code == 404


def test_cli_harvest_bad_interval_is_one_line(cli_env: dict[str, str]) -> None:
    code, _, err = _run(cli_env, "catalog", "harvest", "ftp://example.org/c.ttl")
    assert code != 0 and err.strip().count("\n") == 0 and "http(s)" in err
    code, _, err = _run(cli_env, "catalog", "harvest", "https://example.org/c.ttl",
                        "--interval", str(10**30))  # fmt: skip
    assert code != 0 and err.strip().count("\n") == 0 and "minutes" in err, err


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://data.test.example/c.ttl\x00", "type": "dcat"},
        {"url": "https://data.test.example/\x00/c.ttl", "type": "ckan"},
    ],
)
def test_a_nul_character_in_a_source_is_a_422_and_stores_nothing(
    client: TestClient, org_token: tuple[object, str], body: dict[str, object]
) -> None:
    """PostgreSQL text cannot hold NUL: the source is refused, not a database error (500)."""
    _, token = org_token
    answer = client.post("/api/v1/harvest/sources", json=body, headers={"Authorization": token})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "NUL" in answer.json()["detail"]
    assert client.get("/api/v1/harvest/sources").json()["sources"] == []
