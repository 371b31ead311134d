"""The OpenAPI document as the API answers: error shapes, and the error statuses each operation
can answer, derived from how its route is built rather than kept by hand.

FastAPI documents a 422 as its own ``HTTPValidationError`` JSON, but ours are problem+json
(CKAN's envelope, with CKAN's 409, under ``/api/3/``), and it knows nothing of the errors that
come from dependencies (a token, a rate limit), from the body limit or from a busy database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from .deps import SAFE, get_caller, get_session, require_caller
from .ratelimit import RateLimit

# The shape every error has on the wire (tsunagu.http.errors).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details (docs/problems.md lists the types)",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
CKAN_ERROR_SCHEMA: dict[str, Any] = {
    "title": "CkanError",
    "description": "CKAN's error envelope (validation errors answer 409, as CKAN does)",
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "help": {"type": "string"},
        "success": {"const": False},
        "error": {
            "type": "object",
            "properties": {"__type": {"type": "string"}, "message": {"type": "string"}},
            "additionalProperties": True,
        },
    },
}
PROBLEM_MEDIA = "application/problem+json"
PROBLEM: dict[str, Any] = {"description": "Problem (RFC 9457)", "content": {PROBLEM_MEDIA: {}}}
# For a GET that writes (an access record, a new checkpoint): only a write can find the
# database busy, and a route's method does not show that this one writes.
BUSY: dict[str, Any] = {
    "description": "The database stayed busy past its timeout (Retry-After)",
    "content": {PROBLEM_MEDIA: {}},
}
RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 0},
}

# What an error status means when the document adds it (docs/problems.md has the types).
REASONS = {
    400: "Malformed request: the body is not valid JSON, or a parameter cannot be parsed",
    401: "No API token, or an unknown or revoked one",
    403: "The token's organization may not do this",
    404: "Not found",
    409: "Conflict with the current state",
    413: "The request body is larger than TSUNAGU_MAX_BODY_BYTES",
    429: "Too many requests (Retry-After)",
    503: "The database stayed busy past its timeout (Retry-After)",
}


def route_statuses(route: Any, method: str) -> set[int]:
    """The error statuses ``route`` answers for ``method`` because of how it is built.

    A JSON body FastAPI parses is 400 when it is not JSON; a token dependency is 401 for an
    unknown token (even an optional one, on a read); a path parameter names something that
    may not exist (404); a rate limit is 429; a write session waits for SQLite's write lock
    and is 503 when it stays busy. 413 is for every operation with a request body (the
    document's ``requestBody``, which also covers bodies read by hand). Errors a route's own
    logic raises (403, 409) are declared on the route with ``responses=``.
    """
    calls = set(_calls(route.dependant))
    statuses = set()
    if route.body_field is not None:
        statuses.add(400)
    if calls & {require_caller, get_caller}:
        statuses.add(401)
    if route.dependant.path_params:
        statuses.add(404)
    if any(isinstance(call, RateLimit) for call in calls):
        statuses.add(429)
    if method.upper() not in SAFE and get_session in calls:
        statuses.add(503)
    return statuses


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def document_errors(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document list the errors its operations answer, as sent."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = generate()  # FastAPI keeps this very dict as app.openapi_schema
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        derived = {
            (route.path_format, method.lower()): route_statuses(route, method)
            for route in iter_route_contexts(app.routes)  # into included routers too
            if isinstance(route.original_route, APIRoute) and route.include_in_schema
            for method in route.methods or ()
        }
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                if isinstance(operation, dict) and "responses" in operation:
                    statuses = derived.get((path, method), set())
                    if "requestBody" in operation:
                        statuses = statuses | {413}
                    _document(path, operation["responses"], statuses, schemas)
        # FastAPI's own error shapes, now referenced by no operation (ValidationError only by
        # HTTPValidationError).
        used = json.dumps(spec.get("paths"))
        for name in ("HTTPValidationError", "ValidationError"):
            if f'"#/components/schemas/{name}"' not in used:
                schemas.pop(name, None)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _document(
    path: str, responses: dict[str, Any], statuses: set[int], schemas: dict[str, Any]
) -> None:
    ckan = path.startswith("/api/3/")  # CKAN's envelope, with CKAN's 409 for invalid input
    if ckan:
        schemas["CkanError"] = CKAN_ERROR_SCHEMA
        if responses.pop("422", None) is not None:
            responses["409"] = {"description": "Not valid: CKAN's error envelope (409, as CKAN)"}
    for code in sorted(statuses):
        responses.setdefault(str(code), {"description": REASONS[code]})
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        content = response.setdefault("content", {})
        if ckan and not content.keys() - {"application/json"}:
            response["content"] = {"application/json": _schema("CkanError")}
        elif status == "422" and PROBLEM_MEDIA not in content:  # FastAPI's HTTPValidationError
            response["description"] = "Not valid (RFC 9457 problem)"
            response["content"] = {PROBLEM_MEDIA: _schema("Problem")}
        elif not content or PROBLEM_MEDIA in content:
            content[PROBLEM_MEDIA] = _schema("Problem")
        if status in ("429", "503"):
            response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER


def _schema(name: str) -> dict[str, Any]:
    return {"schema": {"$ref": f"#/components/schemas/{name}"}}
