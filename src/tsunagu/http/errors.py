"""Rendering errors: RFC 9457 problem+json everywhere, CKAN's envelope under /api/3/."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from tsunagu.kernel import BadRequest, NotFound, Problem, ServiceUnavailable, ValidationProblem
from tsunagu.kernel.errors import PROBLEM_BASE

log = logging.getLogger("tsunagu.errors")

BUSY_RETRY_AFTER = 10  # seconds a client should wait when the database is busy

# CKAN's error types (ckan/views/api.py) by our status code.
_CKAN_TYPES = {
    400: "Validation Error",
    401: "Authorization Error",
    403: "Authorization Error",
    404: "Not Found Error",
    409: "Validation Error",
    413: "Validation Error",
    422: "Validation Error",
    429: "Rate Limit Error",
}


def ckan_error_body(problem: Problem, request: Request) -> dict[str, Any]:
    error: dict[str, Any] = {
        "__type": _CKAN_TYPES.get(problem.status, "Internal Server Error"),
        "message": problem.detail,
    }
    field = problem.extensions.get("field")
    if isinstance(field, str):
        error[field] = [problem.detail]
    for item in problem.extensions.get("errors", []) or []:
        error.setdefault(item["field"], []).append(item["message"])
    action = request.url.path.rsplit("/", 1)[-1]
    return {
        "help": f"{request.base_url}api/3/action/help_show?name={action}",
        "success": False,
        "error": error,
    }


def ckan_status(problem: Problem) -> int:
    # CKAN answers validation errors with 409 CONFLICT; keep that for client compatibility.
    return 409 if problem.status == 422 else problem.status


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not an API path): it gets an HTML error page, not JSON."""
    if request.url.path.startswith(("/api/", "/static/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def problem_response(request: Request, problem: Problem) -> Response:
    headers = {}
    if "retry_after" in problem.extensions:
        headers["Retry-After"] = str(problem.extensions["retry_after"])
    # A context may answer under its own paths in the shape its protocol defines (a mesh
    # node's /r1/: X-Road's errors), also for what the middleware refuses before any route.
    renderers: dict[str, Callable[[Request, Problem], Response]] = getattr(
        request.app.state, "problem_renderers", {}
    )
    for prefix, render in renderers.items():
        if request.url.path.startswith(prefix):
            response = render(request, problem)
            response.headers.update(headers)
            return response
    # The web layer registers the renderer (http must not import it: layers point one way).
    renderer: Callable[[Request, Problem], Response] | None = getattr(
        request.app.state, "html_problem_renderer", None
    )
    if renderer is not None and wants_html(request):
        try:
            response = renderer(request, problem)
        except Exception:  # a broken error page must not hide the error: fall back to JSON
            log.exception("HTML error page failed", extra={"path": request.url.path})
        else:
            response.headers.update(headers)
            return response
    if request.url.path.startswith("/api/3/"):
        return JSONResponse(
            ckan_error_body(problem, request), status_code=ckan_status(problem), headers=headers
        )
    return JSONResponse(
        problem.to_dict(instance=request.url.path),
        status_code=problem.status,
        media_type="application/problem+json",
        headers=headers,
    )


def database_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked": a writer held the lock too long."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(
        orig, "sqlite_errorcode", None
    )  # extended codes keep the primary in the low byte
    return isinstance(orig, sqlite3.Error) and code is not None and code & 0xFF in (
        sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
    )  # fmt: skip


def allowed_methods(request: Request) -> str:
    """The methods some route answers at this path, for a 405's ``Allow`` (RFC 9110 §15.5.6).

    Starlette's 405 names only the methods of the first route whose path matched, but one path
    is often several routes (``GET`` and ``POST /api/v1/datasets`` are two), so ask them all.
    """
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):  # into included routers too
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(route.methods or ())
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, Problem):  # registered for Problem only
            raise exc
        return problem_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, RequestValidationError):
            raise exc
        errors = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body") or "body",
                "message": err["msg"],
            }
            for err in exc.errors()
        ]
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            return problem_response(request, BadRequest("request body is not valid JSON"))
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(request, ValidationProblem(summary, errors=errors))

    async def on_http(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):  # registered for HTTPException only
            raise exc
        if exc.status_code == 404:
            return problem_response(request, NotFound(f"no such page: {request.url.path}"))
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (allowed := allowed_methods(request)):
            headers["Allow"] = allowed
        generic = Problem(str(exc.detail))
        body = generic.to_dict(instance=request.url.path)
        body.update(status=exc.status_code, title=str(exc.detail), type=PROBLEM_BASE + "http")
        if request.url.path.startswith("/api/3/"):
            problem = BadRequest(str(exc.detail))
            return JSONResponse(
                ckan_error_body(problem, request), status_code=exc.status_code, headers=headers
            )
        return JSONResponse(
            body,
            status_code=exc.status_code,
            media_type="application/problem+json",
            headers=headers,
        )

    async def on_database_error(request: Request, exc: Exception) -> Response:
        if not database_busy(exc):  # any other database error is unexpected: a 500
            raise exc
        # Temporary, not the caller's fault and not a bug: a long write (a datastore load)
        # held SQLite's write lock past the busy timeout.
        log.warning("database busy", extra={"path": request.url.path, "error": str(exc)})
        busy = ServiceUnavailable(
            "the database is busy with another write; try again shortly",
            retry_after=BUSY_RETRY_AFTER,
        )
        return problem_response(request, busy)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(request, Problem("an unexpected error occurred; it was logged"))

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(DBAPIError, on_database_error)  # SQLAlchemy's wrapper
    app.add_exception_handler(sqlite3.Error, on_database_error)  # the driver's, unwrapped
    app.add_exception_handler(Exception, on_unexpected)
