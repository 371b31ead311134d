"""Cross-cutting HTTP behaviour: health, metrics, problem+json, limits and security headers."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from tsunagu.app import create_app
from tsunagu.http.middleware import JsonFormatter
from tsunagu.kernel import Settings

PROBLEM = "application/problem+json"


def test_healthz_is_alive(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_reports_the_database(client: TestClient, app: FastAPI) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == app.state.engine.dialect.name


def test_readyz_fails_with_problem_when_database_is_unreachable(settings: Settings) -> None:
    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(settings, dead), raise_server_exceptions=False) as c:
        response = c.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("#unavailable")


def test_metrics_count_requests(client: TestClient) -> None:
    client.get("/healthz")
    body = client.get("/metrics").text
    assert 'tsunagu_http_requests_total{method="GET",route="/healthz",status="200"}' in body


def test_openapi_is_3_1(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/healthz" in spec["paths"]


def test_openapi_documents_errors_as_they_are_sent(client: TestClient) -> None:
    """422s are problem+json (CKAN's envelope with 409 under /api/3/), with a schema, as the
    answers really are; FastAPI's own HTTPValidationError shape is never sent, so not listed."""
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    documented = spec["paths"]["/api/v1/organizations"]["get"]["responses"]["422"]
    assert documented["content"] == {"application/problem+json": problem}
    answer = client.get("/api/v1/organizations", params={"offset": -1})
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    assert set(spec["components"]["schemas"]["Problem"]["required"]) <= set(answer.json())
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if "application/problem+json" in content:
                    assert content["application/problem+json"] == problem, (path, status)
                if path.startswith("/api/3/"):
                    assert status != "422", path
    ckan = spec["paths"]["/api/3/action/{action}"]["post"]["responses"]["409"]
    assert ckan["content"]["application/json"]["schema"]["$ref"].endswith("/CkanError")
    # the DCAT exports answer RDF, and say so
    for suffix, media in (("ttl", "text/turtle"), ("jsonld", "application/ld+json"),
                          ("rdf", "application/rdf+xml")):  # fmt: skip
        ok = spec["paths"][f"/catalog.{suffix}"]["get"]["responses"]["200"]
        assert list(ok["content"]) == [media]
        assert client.get(f"/catalog.{suffix}").headers["content-type"].startswith(media)


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404 and body["type"].endswith("#not-found")


def test_security_headers_on_every_response(client: TestClient) -> None:
    headers = client.get("/healthz").headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in headers  # only behind TLS
    assert headers["x-request-id"]


def test_hsts_when_behind_tls(settings: Settings, app: FastAPI) -> None:
    tls = create_app(settings.model_copy(update={"behind_tls": True}), app.state.engine)
    with TestClient(tls) as c:
        assert "max-age=" in c.get("/healthz").headers["strict-transport-security"]


def test_request_body_over_the_limit_is_rejected(settings: Settings, app: FastAPI) -> None:
    small = create_app(settings.model_copy(update={"max_body_bytes": 1024}), app.state.engine)
    with TestClient(small, raise_server_exceptions=False) as c:
        response = c.post("/api/v1/datasets", content=b"x" * 5000,
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


def test_search_rate_limit_answers_429_with_retry_after(settings: Settings, app: FastAPI) -> None:
    limited = create_app(settings.model_copy(update={"rate_limit_search": "2/minute"}),
                         app.state.engine)  # fmt: skip
    limited.state.sessionmaker = app.state.sessionmaker
    with TestClient(limited, raise_server_exceptions=False) as c:
        codes = [c.get("/api/3/action/package_search").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_access_log_is_one_json_object_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tsunagu.access")
    client.get("/healthz", headers={"x-request-id": "req-123", "authorization": "Bearer sekret"})
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "tsunagu.access"]
    assert all("\n" not in line for line in lines)
    entry = next(e for e in map(json.loads, lines) if e.get("request_id") == "req-123")
    assert entry["status"] == 200 and entry["route"] == "/healthz"
    assert "sekret" not in "".join(lines)


def test_secret_key_is_never_logged(
    settings: Settings, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    create_app(settings, app.state.engine)
    assert "test-secret-key" not in caplog.text
    assert "test-secret-key" not in repr(settings)


def test_api_docs_page_loads_its_assets_from_this_server(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source
    bundle = client.get("/docs-assets/swagger-ui-bundle.js").text
    assert '"5.' in bundle  # Swagger UI 5 renders OpenAPI 3.1


@pytest.mark.parametrize(
    "url",
    ["/api/v1/datasets?q=%00", "/api/3/action/package_search?q=a%00b", "/dataset?q=%00",
     "/api/v1/datasets/x%00y"],
)  # fmt: skip
def test_nul_in_the_url_is_rejected_for_every_route(client: TestClient, url: str) -> None:
    response = client.get(url, headers={"accept": "application/json"})
    assert response.status_code in (409, 422), response.text
    assert "NUL" in response.text


def test_a_content_length_in_other_digits_is_not_a_crash(app: FastAPI) -> None:
    """'²' (latin-1 0xB2) is a digit to str.isdigit() but not to int(). A server in front
    normally refuses such a header; the app must not crash if one gets through."""
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/healthz", "raw_path": b"/healthz", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("testserver", 80),
        "headers": [(b"host", b"testserver"), (b"content-length", b"\xb2")],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200
