"""HTTP plumbing shared by every context's routes: sessions, auth, errors, limits, middleware."""

from .deps import get_caller, get_session, require_caller
from .errors import ckan_error_body, install_error_handlers, problem_response
from .params import MAX_OFFSET
from .ratelimit import RateLimits, rate_limit

__all__ = [
    "MAX_OFFSET",
    "RateLimits",
    "ckan_error_body",
    "get_caller",
    "get_session",
    "install_error_handlers",
    "problem_response",
    "rate_limit",
    "require_caller",
]
