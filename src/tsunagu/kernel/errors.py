"""Errors as types, rendered as RFC 9457 problem details.

Every error a caller can cause is a :class:`Problem`. Its ``type`` is a stable URI under
``https://tsunagu.example/problems/`` (documented in docs/api.md); clients match on it, never on
the human-readable ``detail``.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://github.com/tsunagu/tsunagu/blob/main/docs/problems.md#"


class Problem(Exception):
    """Base of every error a caller can cause; renders as problem+json."""

    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    status: ClassVar[int] = 500

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


class ValidationProblem(Problem):
    slug = "validation-error"
    title = "The request is not valid"
    status = 422

    def __init__(self, detail: str, *, field: str | None = None, **extensions: Any) -> None:
        if field is not None:
            extensions["field"] = field
        super().__init__(detail, **extensions)
        self.field = field


class NotFound(Problem):
    slug = "not-found"
    title = "Not found"
    status = 404


class Conflict(Problem):
    slug = "conflict"
    title = "Conflict with the current state"
    status = 409


class Unauthorized(Problem):
    slug = "unauthorized"
    title = "Authentication required"
    status = 401


class Forbidden(Problem):
    slug = "forbidden"
    title = "Not allowed"
    status = 403


class PayloadTooLarge(Problem):
    slug = "payload-too-large"
    title = "Request body too large"
    status = 413


class RateLimited(Problem):
    slug = "rate-limited"
    title = "Too many requests"
    status = 429


class BadRequest(Problem):
    slug = "bad-request"
    title = "Malformed request"
    status = 400


class ServiceUnavailable(Problem):
    slug = "unavailable"
    title = "Service unavailable"
    status = 503
