"""Rate limits on write and search endpoints, per client address (moving window).

Uses the ``limits`` library's in-memory storage: each process counts on its own, so behind a load
balancer with N processes a client gets up to N times the limit. Set a shared storage when
scaling out (documented in docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Callable

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from tsunagu.kernel import RateLimited


class RateLimits:
    def __init__(self, rules: dict[str, str]) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.rules = {name: parse(rule) for name, rule in rules.items()}

    def hit(self, kind: str, client: str) -> None:
        item = self.rules[kind]
        if not self.limiter.hit(item, kind, client):
            raise RateLimited(
                f"more than {item.amount} {kind} requests per {item.multiples} "
                f"{item.GRANULARITY.name}; slow down",
                retry_after=item.get_expiry(),
            )


class RateLimit:
    """FastAPI dependency applying the ``kind`` limit to the calling address (429 past it).

    A class rather than a closure, so the OpenAPI document can tell which operations it guards.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, request: Request) -> None:
        limits: RateLimits = request.app.state.rate_limits
        client = request.client.host if request.client else "unknown"
        limits.hit(self.kind, client)


def rate_limit(kind: str) -> Callable[[Request], None]:
    """FastAPI dependency applying the ``kind`` limit to the calling address."""
    return RateLimit(kind)
