"""Shared kernel: identifiers, errors, clock and settings. Imports nothing else of tsunagu."""

from .clock import naive_utcnow, parse_iso_date, utcnow
from .errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Problem,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationProblem,
)
from .events import Event
from .ids import (
    corporate_number_check_digit,
    individual_number_check_digit,
    is_valid_corporate_number,
    is_valid_individual_number,
    is_valid_lg_code,
    validate_corporate_number,
)
from .inputs import InputModel, unfit_text, unfit_text_error
from .settings import Settings, load_settings

__all__ = [
    "BadRequest",
    "Conflict",
    "Event",
    "Forbidden",
    "InputModel",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "RateLimited",
    "ServiceUnavailable",
    "Settings",
    "Unauthorized",
    "ValidationProblem",
    "corporate_number_check_digit",
    "individual_number_check_digit",
    "is_valid_corporate_number",
    "is_valid_individual_number",
    "is_valid_lg_code",
    "load_settings",
    "naive_utcnow",
    "parse_iso_date",
    "unfit_text",
    "unfit_text_error",
    "utcnow",
    "validate_corporate_number",
]
