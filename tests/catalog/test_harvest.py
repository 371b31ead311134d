"""Harvesting the real catalog samples from a loopback HTTP server: twice, with no duplicates."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.catalog import Dataset
from tsunagu.catalog.harvest.fetch import Limits
from tsunagu.catalog.harvest.models import HarvestJob
from tsunagu.catalog.harvest.run import ensure_source, run_harvest, source_id

SAMPLES = SHARED / "catalog-samples"
Handler = Callable[[dict[str, list[str]]], tuple[int, bytes, str]]
LIMITS = Limits(max_pages=20, max_datasets=1000, max_bytes=5_000_000, timeout=2.0)


def _file(path: str, content_type: str) -> Handler:
    body = (SAMPLES / path).read_bytes()
    return lambda _query: (200, body, content_type)


def _package_search(packages: list[Any]) -> Handler:
    def handler(query: dict[str, list[str]]) -> tuple[int, bytes, str]:
        start = int(query.get("start", ["0"])[0])
        rows = int(query.get("rows", ["10"])[0])
        result = {"count": len(packages), "results": packages[start : start + rows]}
        body = json.dumps({"help": "", "success": True, "result": result}).encode()
        return 200, body, "application/json"

    return handler


def _data_go_jp() -> list[Any]:
    document = json.loads((SAMPLES / "xckan" / "catalog.json").read_text(encoding="utf-8"))
    items = document if isinstance(document, list) else [document]
    return [i.get("result", i) for i in items]


def _endless(query: dict[str, list[str]]) -> tuple[int, bytes, str]:
    n = int(query.get("page", ["1"])[0])
    body = f"""@prefix hydra: <http://www.w3.org/ns/hydra/core#> .
<http://h/catalog?page={n}> a hydra:PartialCollectionView ;
    hydra:nextPage "/endless.ttl?page={n + 1}" .
""".encode()
    return 200, body, "text/turtle"


def _slow(_query: dict[str, list[str]]) -> tuple[int, bytes, str]:
    time.sleep(4)
    return 200, b"", "text/turtle"


class _Server:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        routes = self.routes

        class RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                handler = routes.get(parts.path)
                if handler is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                status, body, content_type = handler(parse_qs(parts.query))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    srv.routes.update({
        "/uk/api/3/action/package_search": _package_search(
            json.loads((SAMPLES / "data-gov-uk" / "package_search.json").read_text())["result"][
                "results"]),
        "/jp/api/3/action/package_search": _package_search(_data_go_jp()),
        "/es/catalog.ttl": _file("ckanext-dcat/dataset_gob_es.ttl", "text/turtle"),
        "/de/catalog.rdf": _file("ckanext-dcat/dataset_gov_de.rdf", "application/rdf+xml"),
        "/se/catalog.rdf": _file("ckanext-dcat/dataset_sweden.rdf", "application/rdf+xml"),
        "/hh/catalog.rdf": _file("ckan-mqa/dcatap-de_catalog.rdf", "application/rdf+xml"),
        "/endless.ttl": _endless,
        "/slow.ttl": _slow,
        "/broken.ttl": lambda _q: (200, b"@prefix dcat: <x> . <a> dcat:Dataset", "text/turtle"),
    })  # fmt: skip
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _count(session: Session, sid: str, state: str = "active") -> int:
    return int(session.scalar(select(func.count()).select_from(Dataset).where(
        Dataset.source_id == sid, Dataset.state == state)) or 0)  # fmt: skip


SAMPLE_SOURCES = [
    ("data-gov-uk", "/uk", "ckan", 4),
    ("data-go-jp", "/jp/api/3/action", "ckan", 1),
    ("datos-gob-es", "/es/catalog.ttl", "dcat", 1),
    ("govdata", "/de/catalog.rdf", "dcat", 1),
    ("sweden", "/se/catalog.rdf", "dcat", 1),
    ("hamburg", "/hh/catalog.rdf", "dcat", 1),
]


@pytest.mark.parametrize(("name", "path", "kind", "minimum"), SAMPLE_SOURCES)
def test_harvesting_a_sample_twice_creates_no_duplicates(
    session: Session, server: _Server, name: str, path: str, kind: str, minimum: int
) -> None:
    source = ensure_source(session, server.url + path, kind, name=name)
    first = run_harvest(session, source, LIMITS)
    assert first.status == "finished", first.error
    assert not first.errors, [(e.record, e.message) for e in first.errors]
    assert first.inserted >= minimum and first.found >= first.inserted
    stored = _count(session, source_id(source))
    assert stored == first.inserted
    second = run_harvest(session, source, LIMITS)
    assert second.status == "finished"
    assert (second.inserted, second.updated, second.withdrawn) == (0, 0, 0)
    assert second.unchanged == first.inserted
    assert _count(session, source_id(source)) == stored


def test_withdraws_datasets_gone_at_the_source_and_revives_them(
    session: Session, server: _Server
) -> None:
    packages = json.loads((SAMPLES / "data-gov-uk" / "package_search.json").read_text())[
        "result"]["results"]  # fmt: skip
    server.routes["/shrink/api/3/action/package_search"] = _package_search(packages)
    source = ensure_source(session, server.url + "/shrink", "ckan", name="shrink")
    full = run_harvest(session, source, LIMITS)
    server.routes["/shrink/api/3/action/package_search"] = _package_search(packages[:2])
    smaller = run_harvest(session, source, LIMITS)
    assert smaller.withdrawn == full.inserted - 2
    assert _count(session, source_id(source), "deleted") == full.inserted - 2
    changed = [dict(packages[0], title="改題されたタイトル"), *packages[1:]]
    server.routes["/shrink/api/3/action/package_search"] = _package_search(changed)
    again = run_harvest(session, source, LIMITS)
    assert again.updated == full.inserted - 1 and again.inserted == 0
    assert _count(session, source_id(source)) == full.inserted
    title = session.scalar(select(Dataset.title).where(Dataset.id == packages[0]["id"]))
    assert title == "改題されたタイトル"


def test_endless_next_page_chain_stops_at_the_bound(session: Session, server: _Server) -> None:
    source = ensure_source(session, server.url + "/endless.ttl", "dcat", name="endless")
    job = run_harvest(session, source, Limits(max_pages=7, timeout=2.0))
    assert job.status == "failed" and job.pages == 0
    assert "stopped after 7 pages" in job.error


def test_malformed_rdf_fails_the_job_and_stores_nothing(session: Session, server: _Server) -> None:
    source = ensure_source(session, server.url + "/broken.ttl", "dcat", name="broken")
    job = run_harvest(session, source, LIMITS)
    assert job.status == "failed" and "malformed" in job.error
    assert _count(session, source_id(source)) == 0


def test_unreachable_and_slow_sources_fail_with_a_clear_error(
    session: Session, server: _Server
) -> None:
    dead = ensure_source(session, "http://127.0.0.1:9/api/3/action", "ckan", name="dead")
    job = run_harvest(session, dead, LIMITS)
    assert job.status == "failed" and "cannot be reached" in job.error
    slow = ensure_source(session, server.url + "/slow.ttl", "dcat", name="slow")
    started = time.monotonic()
    job = run_harvest(session, slow, Limits(timeout=0.5))
    assert job.status == "failed" and "no answer within 0.5 s" in job.error
    assert time.monotonic() - started < 3
    assert session.scalar(select(func.count()).select_from(HarvestJob)) == 2
