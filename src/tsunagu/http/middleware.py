"""HTTP middleware: request ids and access logs, security headers, body limits, metrics."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tsunagu.kernel import PayloadTooLarge, Problem, ValidationProblem

log = logging.getLogger("tsunagu.access")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI at /docs loads its assets from our own static folder but needs an inline init.
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


class Metrics:
    """Prometheus metrics of one app (own registry, so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tsunagu_http_requests_total",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tsunagu_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            registry=self.registry,
        )


class RequestMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware buffering) for cross-cutting concerns."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body_bytes: int,
        behind_tls: bool,
        on_reject: Callable[[Scope, Problem], Awaitable[ASGIApp]],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.behind_tls = behind_tls
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder: dict[str, int] = {"status": 500}
        path: str = scope["path"]

        declared = _header(scope, b"content-length")
        problem: Problem | None = _nul_in_url(scope)
        if (
            declared
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > self.max_body_bytes
        ):
            problem = PayloadTooLarge(
                f"request body is {declared} bytes; at most {self.max_body_bytes} allowed"
            )
        if problem is not None:
            responder = await self.on_reject(scope, problem)
            await responder(scope, receive, self._wrap_send(send, status_holder, request_id, path))
            self._record(scope, status_holder["status"], start, request_id)
            return

        received = 0
        max_bytes = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise PayloadTooLarge(f"request body larger than {max_bytes} bytes")
            return message

        try:
            await self.app(
                scope, limited_receive, self._wrap_send(send, status_holder, request_id, path)
            )
        finally:
            self._record(scope, status_holder["status"], start, request_id)

    def _wrap_send(self, send: Send, holder: dict[str, int], request_id: str, path: str) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                holder["status"] = message["status"]
                headers = message.setdefault("headers", [])
                _security_headers(headers, path, self.behind_tls)
                headers.append((b"x-request-id", request_id.encode("latin-1")))
            await send(message)

        return wrapped

    def _record(self, scope: Scope, status: int, start: float, request_id: str) -> None:
        elapsed = time.perf_counter() - start
        route = scope.get("route")
        route_path = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        self.metrics.requests.labels(method, route_path, str(status)).inc()
        self.metrics.latency.labels(method, route_path).observe(elapsed)
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "path": scope.get("path"),
                "route": route_path,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "client": (scope.get("client") or ("", 0))[0],
            },
        )


def _nul_in_url(scope: Scope) -> Problem | None:
    """A NUL in the decoded path or a query value: no route can use it, and PostgreSQL text
    cannot hold it, so it is rejected here once for every route rather than failing later."""
    query = scope.get("query_string", b"").decode("latin-1")
    decoded = [v for pair in parse_qsl(query, keep_blank_values=True) for v in pair]
    if "\x00" in scope.get("path", "") or any("\x00" in v for v in decoded):
        return ValidationProblem("the request URL contains a NUL character", field="url")
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def _security_headers(headers: list[tuple[bytes, bytes]], path: str, behind_tls: bool) -> None:
    present = {k.lower() for k, _ in headers}

    def add(name: bytes, value: str) -> None:
        if name not in present:
            headers.append((name, value.encode("latin-1")))

    add(b"content-security-policy", DOCS_CSP if path in ("/docs", "/redoc") else CSP)
    add(b"x-content-type-options", "nosniff")
    add(b"x-frame-options", "DENY")
    add(b"referrer-policy", "strict-origin-when-cross-origin")
    add(b"permissions-policy", "geolocation=(), camera=(), microphone=()")
    add(b"cross-origin-opener-policy", "same-origin")
    if behind_tls:
        add(b"strict-transport-security", "max-age=63072000; includeSubDomains")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; secrets never reach here because nothing logs them."""

    _skip = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        body: MutableMapping[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._skip:
                body[key] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


def configure_logging(level: str, as_json: bool) -> None:
    handler = logging.StreamHandler()
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("tsunagu")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
