"""The OpenAPI document says what the API answers: every error status an operation really
answers, the bodies routes read themselves, the enums and patterns the code checks, and 405s
whose ``Allow`` lists every method of the path."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import compile_path

from tsunagu.accounts import Caller
from tsunagu.app import create_app
from tsunagu.kernel import Settings

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
CKAN = {"application/json": {"schema": {"$ref": "#/components/schemas/CkanError"}}}


@pytest.fixture
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operation(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    found: dict[str, Any] = spec["paths"][path][method]
    return found


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        # a JSON body (400 not JSON, 413), a token (401), another organization's (403), a write
        # session (503 busy)
        ("/api/v1/harvest/sources", "post", {400, 401, 403, 413, 503}),
        ("/api/v1/residents/{lg_code}/lookup", "post", {400, 401, 403, 404, 413, 503}),
        ("/api/v1/address/geocode", "post", {400, 413}),
        ("/api/v1/datasets", "post", {400, 401, 413, 429, 503}),
        # bodies read by hand: 413; path parameters: 404; rate limits: 429
        ("/api/v1/datastore/{resource_id}", "put", {401, 403, 404, 413, 429, 503}),
        ("/api/v1/quality/check", "post", {401, 413}),
        ("/api/v1/dcat/validate", "post", {413, 429}),
        ("/tsa", "post", {413}),
        ("/log/cosignatures", "post", {413, 429, 503}),
        # an optional token that is unknown is still 401
        ("/api/v1/datastore/{resource_id}", "get", {401, 404}),
        ("/api/v1/harvest/jobs/{job_id}", "get", {404}),
        ("/api/v1/harvest/sources/{name}/jobs", "get", {404}),
        ("/api/v1/quality/datasets/{name}", "get", {404}),
        ("/api/v1/quality/organizations/{name}", "get", {404}),
        # GETs that write: an access record, a new checkpoint
        ("/api/v1/residents/{lg_code}/persons/{resident_id}", "get", {401, 403, 404, 503}),
        ("/log/checkpoint", "get", {503}),
    ],
)
def test_error_statuses_the_routes_answer_are_documented(
    spec: dict[str, Any], path: str, method: str, statuses: set[int]
) -> None:
    responses = operation(spec, path, method)["responses"]
    assert {str(s) for s in statuses} <= set(responses), sorted(responses)
    for status in statuses:
        assert responses[str(status)]["content"] == PROBLEM, (path, method, status)
        if status in (429, 503):
            assert "Retry-After" in responses[str(status)]["headers"]


def test_safe_reads_are_not_said_to_wait_for_the_write_lock(spec: dict[str, Any]) -> None:
    for path, method in [("/api/v1/datasets/{name}", "get"), ("/api/v1/harvest/sources", "get")]:
        assert "503" not in operation(spec, path, method)["responses"], path


def test_ckan_actions_document_ckan_statuses_in_their_envelope(spec: dict[str, Any]) -> None:
    """What docs/api.md lists for the actions, in CKAN's envelope, never problem+json."""
    for method, extra in (("get", set()), ("post", {"413"})):
        responses = operation(spec, "/api/3/action/{action}", method)["responses"]
        errors = {s for s in responses if int(s) >= 400}
        assert errors == {"400", "401", "403", "404", "409", "429", "503"} | extra, method
        for status in errors:
            assert responses[status]["content"] == CKAN, (method, status)
        assert "Retry-After" in responses["503"]["headers"]
    body = operation(spec, "/api/3/action/{action}", "post")["requestBody"]
    assert set(body["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    assert "requestBody" not in operation(spec, "/api/3/action/{action}", "get")


@pytest.mark.parametrize(
    ("path", "method", "media"),
    [
        ("/api/v1/datastore/{resource_id}", "put", "text/csv"),
        ("/api/v1/quality/check", "post", "*/*"),
        ("/api/v1/dcat/validate", "post", "text/turtle"),
        ("/log/cosignatures", "post", "text/plain"),
        ("/witness/add-checkpoint", "post", "text/plain"),
        ("/tsa", "post", "application/timestamp-query"),
    ],
)
def test_bodies_read_by_hand_are_declared(
    spec: dict[str, Any], path: str, method: str, media: str
) -> None:
    body = operation(spec, path, method)["requestBody"]
    assert body["required"] is True
    assert "schema" in body["content"][media]


def test_the_witness_conflict_is_documented_as_its_own_media_type(spec: dict[str, Any]) -> None:
    conflict = operation(spec, "/witness/add-checkpoint", "post")["responses"]["409"]
    assert list(conflict["content"]) == ["text/x.tlog.size"]


def test_json_ld_is_documented_as_json(spec: dict[str, Any], client: TestClient) -> None:
    for path in ("/catalog.jsonld", "/dataset/{name}.jsonld"):
        ok = operation(spec, path, "get")["responses"]["200"]["content"]
        assert ok["application/ld+json"]["schema"] == {"type": "object"}
    assert isinstance(client.get("/catalog.jsonld").json(), dict)


def _param(spec: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    [param] = [p for p in operation(spec, path, "get")["parameters"] if p["name"] == name]
    schema: dict[str, Any] = param["schema"]
    return schema


@pytest.mark.parametrize(
    ("path", "name", "key", "value"),
    [
        ("/api/v1/corporations", "format", "enum", ["json", "csv", "xml"]),
        ("/api/v1/corporations", "match", "enum", ["prefix", "contains"]),
        ("/api/v1/corporations/{number}", "number", "pattern", "^[0-9]{13}$"),
        ("/api/v1/laws/{law_id}", "format", "enum", ["json", "xml"]),
        ("/api/v1/address/lg/{lg_code}", "lg_code", "pattern", "^[0-9]{6}$"),
        ("/api/v1/address/search", "lg_code", "pattern", "^[0-9]{6}$"),
        ("/api/v1/address/lg/{lg_code}/towns/{machiaza_id}", "machiaza_id", "pattern",
         "^[0-9]{7}$"),
        ("/api/v1/datasets/{name}/versions/{number}", "number", "pattern", "^[0-9]{1,9}$"),
        ("/api/v1/datasets/{name}/versions", "limit", "maximum", 1000),
        ("/api/v1/organizations", "sort", "enum", ["name", "name asc", "name desc", "title",
                                                  "title asc", "title desc", "package_count",
                                                  "package_count desc", "package_count asc"]),
    ],
)  # fmt: skip
def test_enums_and_patterns_the_code_checks_are_documented(
    spec: dict[str, Any], path: str, name: str, key: str, value: Any
) -> None:
    assert _param(spec, path, name)[key] == value


def test_documented_patterns_and_enums_agree_with_the_code(
    spec: dict[str, Any], client: TestClient
) -> None:
    """A value the document refuses is refused; one it allows gets past the check."""
    law = _param(spec, "/api/v1/laws/{law_id}", "law_id")["pattern"]
    assert re.fullmatch(law, "415AC0000000057") and not re.fullmatch(law, "415AC000000005")
    assert client.get("/api/v1/laws/415AC000000005").status_code == 422
    assert client.get("/api/v1/laws/415AC0000000057").status_code == 404  # valid, not stored
    yaml = client.get("/api/v1/corporations", params={"name": "a", "format": "yaml"})
    assert yaml.status_code == 422 and yaml.json()["field"] == "format"
    for sort in _param(spec, "/api/v1/datasets", "sort")["enum"]:
        assert client.get("/api/v1/datasets", params={"sort": sort}).status_code == 200, sort
    assert client.get("/api/v1/datasets", params={"sort": "size"}).status_code == 422
    for facet in _param(spec, "/api/v1/datasets", "facet")["items"]["enum"]:
        assert client.get("/api/v1/datasets", params={"facet": facet}).status_code == 200, facet


def _documented(spec: dict[str, Any], method: str, url: str, status: int, media: str) -> None:
    """The answer's status and media type are among those of the operation ``url`` calls."""
    for template, operations in spec["paths"].items():
        regex, _, _ = compile_path(template)
        if regex.match(url.split("?")[0]) and method in operations:
            responses = operations[method]["responses"]
            assert str(status) in responses, (method, url, status, sorted(responses))
            assert media in responses[str(status)].get("content", {}), (method, url, media)
            return
    raise AssertionError(f"no documented operation for {method} {url}")


def test_real_answers_have_documented_statuses(
    spec: dict[str, Any], client: TestClient, org_token: tuple[Caller, str]
) -> None:
    _, token = org_token
    auth = {"Authorization": f"Bearer {token}"}
    bad = {"Authorization": "Bearer not-a-token"}
    calls: list[tuple[str, str, dict[str, Any], int]] = [
        ("post", "/api/v1/harvest/sources", {"json": {"url": "https://x.jp", "type": "ckan"}}, 401),
        ("post", "/api/v1/harvest/sources", {"content": b"{", "headers": {
            **auth, "content-type": "application/json"}}, 400),
        ("post", "/api/v1/harvest/sources", {"json": {
            "url": "https://x.jp", "type": "ckan", "organization": "other"}, "headers": auth}, 403),
        ("get", "/api/v1/harvest/jobs/999", {}, 404),
        ("get", "/api/v1/harvest/sources/nothing/jobs", {}, 404),
        ("get", "/api/v1/datastore/no-such-resource", {}, 404),
        ("get", "/api/v1/datastore/no-such-resource", {"headers": bad}, 401),
        ("put", "/api/v1/datastore/no-such-resource", {"content": b"a,b\n1,2\n"}, 401),
        ("post", "/api/v1/quality/check", {"content": b"a,b\n"}, 401),
        ("get", "/api/v1/quality/datasets/no-such-dataset", {}, 404),
        ("get", "/api/v1/quality/organizations/no-such-org", {}, 404),
        ("get", "/api/v1/datasets", {"headers": bad}, 401),
        ("post", "/api/v1/address/geocode", {"content": b"{", "headers": {
            "content-type": "application/json"}}, 400),
    ]  # fmt: skip
    for method, url, kwargs, status in calls:
        answer = client.request(method.upper(), url, **kwargs)
        assert answer.status_code == status, (method, url, answer.text)
        _documented(spec, method, url, status, "application/problem+json")
    ckan_calls: list[tuple[str, str, dict[str, Any], int]] = [
        ("get", "/api/3/action/no_such_action", {}, 404),
        ("post", "/api/3/action/package_create", {"json": {"name": "x"}}, 403),
        ("post", "/api/3/action/package_show", {"json": {"id": "x"}, "headers": bad}, 401),
        ("post", "/api/3/action/package_show", {"content": b"[1]", "headers": {
            "content-type": "application/json"}}, 400),
        ("get", "/api/3/action/package_create", {}, 400),
        ("get", "/api/3/action/package_list", {"params": {"limit": "x"}}, 409),
    ]  # fmt: skip
    for method, url, kwargs, status in ckan_calls:
        answer = client.request(method.upper(), url, **kwargs)
        assert answer.status_code == status, (method, url, answer.text)
        assert answer.json()["success"] is False
        _documented(spec, method, url, status, "application/json")


def test_a_body_over_the_limit_is_a_documented_413(settings: Settings, app: FastAPI) -> None:
    small = create_app(settings.model_copy(update={"max_body_bytes": 100}), app.state.engine)
    spec = small.openapi()
    with TestClient(small, raise_server_exceptions=False) as c:
        for url in ("/api/v1/quality/check", "/api/v1/dcat/validate", "/tsa"):
            answer = c.post(url, content=b"x" * 500)
            assert answer.status_code == 413, url
            _documented(spec, "post", url, 413, "application/problem+json")


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("OPTIONS", "/api/v1/datasets", "GET, POST"),  # two routes, one path
        ("PATCH", "/api/v1/datasets/population", "DELETE, GET, PUT"),
        ("DELETE", "/api/v1/address/geocode", "GET, POST"),
        ("PUT", "/api/v1/residents/131016/persons", "GET, POST"),
        ("POST", "/healthz", "GET"),
        ("TRACE", "/api/3/action/package_show", "GET, POST"),  # CKAN's envelope
    ],
)
def test_a_405_allows_every_method_the_path_has(
    spec: dict[str, Any], client: TestClient, method: str, url: str, allow: str
) -> None:
    answer = client.request(method, url)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    documented = next(
        ops for template, ops in spec["paths"].items() if compile_path(template)[0].match(url)
    )
    assert allow == ", ".join(sorted(m.upper() for m in documented))


def test_the_registries_csv_and_xml_answers_are_documented(
    spec: dict[str, Any], client: TestClient
) -> None:
    for fmt, media in (("csv", "text/csv"), ("xml", "application/xml")):
        answer = client.get("/api/v1/corporations", params={"name": "a", "format": fmt})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(media)
        _documented(spec, "get", "/api/v1/corporations", 200, media)
    law = operation(spec, "/api/v1/laws/{law_id}", "get")["responses"]["200"]["content"]
    assert "application/xml" in law
