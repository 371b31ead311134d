"""API tokens: authentication and how their last use is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from tsunagu.accounts import services
from tsunagu.accounts.models import ApiToken
from tsunagu.kernel import Unauthorized


@pytest.fixture
def token(session: Session) -> tuple[ApiToken, str]:
    services.create_organization(session, "token-owner", "トークンの持ち主")
    return services.create_token(session, "token-owner", "test")


def test_last_use_is_recorded_to_the_minute(
    session: Session, token: tuple[ApiToken, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    row, secret = token
    start = datetime(2030, 4, 1, 9, 0, 0, tzinfo=UTC).replace(tzinfo=None)  # stored naive UTC
    for offset, expected in (
        (timedelta(0), start),  # first use: recorded
        (timedelta(seconds=59), start),  # within the minute: no write
        (timedelta(seconds=61), start + timedelta(seconds=61)),  # a minute later: recorded
    ):
        now = start + offset
        monkeypatch.setattr(services, "naive_utcnow", lambda now=now: now)
        caller = services.authenticate(session, f"Bearer {secret}")
        session.flush()
        assert caller.organization_name == "token-owner"
        assert row.last_used == expected


def test_unknown_and_revoked_tokens_are_refused(
    session: Session, token: tuple[ApiToken, str]
) -> None:
    row, secret = token
    with pytest.raises(Unauthorized):
        services.authenticate(session, secret + "x")
    services.revoke_token(session, row.prefix)
    with pytest.raises(Unauthorized):
        services.authenticate(session, secret)
