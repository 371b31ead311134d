"""Use cases of the accounts context: organizations, users and API tokens."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, joinedload

from tsunagu.kernel import (
    Conflict,
    NotFound,
    Unauthorized,
    ValidationProblem,
    is_valid_lg_code,
    naive_utcnow,
    validate_corporate_number,
)

from .models import ApiToken, Organization

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,99}\Z")
LAST_USED_STEP = timedelta(minutes=1)  # how precisely a token's last use is recorded
MAX_ROW_ID = 2**63 - 1  # the largest SQLite INTEGER (and PostgreSQL BIGINT)
TOKEN_PREFIX = "tsu_"  # noqa: S105 -- a marker that makes leaked tokens greppable, not a secret


def validate_name(value: str, what: str = "name") -> str:
    """URL-safe identifier: 2–100 lowercase ASCII letters, digits, '-' or '_' (CKAN's rule)."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValidationProblem(
            f"{what} {value!r} must be 2-100 characters of lowercase a-z, 0-9, '-' or '_'",
            field=what,
        )
    return value


@dataclass(frozen=True)
class Caller:
    """Who is calling: the organization a token belongs to."""

    organization_id: int
    organization_name: str
    token_id: int


def hash_token(token: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough (no dictionary to attack);
    # a slow KDF would only add latency to every API call.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def as_row_id(text: str) -> int | None:
    """``text`` as a row id if it can be one: ASCII digits within a 64-bit integer."""
    # isdigit() alone accepts '²' (int() refuses it) and full-width '４２' (int() reads 42);
    # SQLite overflows past 2**63 - 1, so a longer number cannot be any row's id.
    if text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_ROW_ID:
        return int(text)
    return None


def get_organization(session: Session, name_or_id: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == name_or_id))
    if org is None and (row_id := as_row_id(name_or_id)) is not None:
        org = session.get(Organization, row_id)
    if org is None:
        raise NotFound(f"organization {name_or_id!r} not found")
    return org


def create_organization(
    session: Session,
    name: str,
    title: str,
    *,
    title_en: str = "",
    corporate_number: str | None = None,
    lg_code: str | None = None,
    description: str = "",
    url: str = "",
) -> Organization:
    validate_name(name)
    if not title or len(title) > 300:
        raise ValidationProblem("title is required and at most 300 characters", field="title")
    if corporate_number:
        validate_corporate_number(corporate_number)
    if lg_code and not is_valid_lg_code(lg_code):
        raise ValidationProblem(f"lg_code {lg_code!r} is not a valid 6-digit code", field="lg_code")
    if session.scalar(select(Organization.id).where(Organization.name == name)) is not None:
        raise Conflict(f"organization {name!r} already exists")
    org = Organization(
        name=name,
        title=title,
        title_en=title_en,
        corporate_number=corporate_number or None,
        lg_code=lg_code or None,
        description=description,
        url=url,
    )
    session.add(org)
    session.flush()
    return org


def update_organization(
    session: Session,
    name: str,
    *,
    corporate_number: str | None = None,
    lg_code: str | None = None,
) -> Organization:
    """Set an existing organization's 法人番号 and/or 団体コード (validated)."""
    org = get_organization(session, name)
    if corporate_number:
        org.corporate_number = validate_corporate_number(corporate_number)
    if lg_code:
        if not is_valid_lg_code(lg_code):
            raise ValidationProblem(
                f"lg_code {lg_code!r} is not a valid 6-digit code", field="lg_code"
            )
        org.lg_code = lg_code
    session.flush()
    return org


def create_token(session: Session, organization: str, label: str = "") -> tuple[ApiToken, str]:
    """Create a token for ``organization``; returns the row and the token (shown only once)."""
    org = get_organization(session, organization)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=hash_token(token), prefix=token[:10], organization_id=org.id, label=label
    )
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, token: str) -> Caller:
    """Resolve a presented token to its organization, or raise Unauthorized."""
    if token.lower().startswith("bearer "):
        token = token[7:]
    token = token.strip()
    row = session.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.organization))
        .where(ApiToken.token_hash == hash_token(token))
    )
    if row is None or row.revoked:
        raise Unauthorized("the API token is not valid")
    caller = Caller(
        organization_id=row.organization_id,
        organization_name=row.organization.name,
        token_id=row.id,
    )
    now = naive_utcnow()
    # Recorded to the minute, not on every request: a write per request serialized the node's
    # callers on SQLite, and concurrent read-then-write transactions there failed with
    # "database is locked" (bench/mesh.py at concurrency 16).
    if row.last_used is None or now - row.last_used >= LAST_USED_STEP:
        _record_use(session, row, now)
    return caller


def _record_use(session: Session, row: ApiToken, now: datetime) -> None:
    """Best effort: a busy database skips the last-used time rather than fail the request."""
    # In a transaction that has only read, SQLite refuses the write at once (no busy wait)
    # while another connection holds the write lock, e.g. a long datastore load; the savepoint
    # undoes just this update and the caller's read carries on. Callers that want it recorded
    # commit the session.
    session.flush()  # the caller's own pending changes must fail (or not) on their own
    try:
        with session.begin_nested():
            row.last_used = now
    except OperationalError as exc:
        log.info("token last use not recorded: %s", exc.orig, extra={"token_id": row.id})


def revoke_token(session: Session, prefix: str) -> int:
    rows = session.scalars(select(ApiToken).where(ApiToken.prefix == prefix)).all()
    for row in rows:
        row.revoked = True
    return len(rows)
