"""Fixtures of the log tests: access records, a log with entries, keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from tsunagu.kernel import Settings
from tsunagu.ledger import services
from tsunagu.ledger.records import AccessRecordIn, Organization

WAKAYAMA = Organization(id="JP/MUN/6000020302015", name="和歌山市")
NTA = Organization(id="JP/GOV/7000012050002", name="国税庁")


def record(n: int = 0, **changes: object) -> AccessRecordIn:
    fields: dict[str, object] = {
        "accessed_at": datetime(2026, 4, 1, 9, 0, n % 60, tzinfo=UTC),
        "requester": NTA, "provider": WAKAYAMA, "pseudonym": f"psn-wakayama-{n:05d}",
        "data_items": ("地方税関係情報/課税所得",), "purpose": "所得税の調査",
        "legal_basis": "325AC0000000027#Art19", "case_id": f"case-{n}", "message_id": f"msg-{n}",
    }  # fmt: skip
    fields.update(changes)
    return AccessRecordIn.model_validate(fields)


@pytest.fixture
def log_settings(settings: Settings) -> Settings:
    settings.log_checkpoint_interval = 0
    settings.log_origin = "tsunagu.example/log"
    return settings


@pytest.fixture
def identity(log_settings: Settings) -> services.LogIdentity:
    return services.log_identity(log_settings)


@pytest.fixture
def filled(session: Session) -> Session:
    """A log of 1,000 raw entries plus 20 access records."""
    services.append_entries(session, [f"entry {i}".encode() for i in range(1000)])
    services.append_access_records(session, [record(i) for i in range(20)])
    session.flush()
    return session
