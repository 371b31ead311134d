"""Accounts: organizations (members), users and API tokens."""

from .models import ApiToken, Organization, User
from .services import (
    MAX_ROW_ID,
    Caller,
    as_row_id,
    authenticate,
    create_organization,
    create_token,
    get_organization,
    hash_token,
    revoke_token,
    update_organization,
    validate_name,
)

__all__ = [
    "MAX_ROW_ID",
    "ApiToken",
    "Caller",
    "Organization",
    "User",
    "as_row_id",
    "authenticate",
    "create_organization",
    "create_token",
    "get_organization",
    "hash_token",
    "revoke_token",
    "update_organization",
    "validate_name",
]
