"""The ``ledger`` seed source fills the demo log once, with no individual numbers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tsunagu.ledger import services
from tsunagu.seed import SEED_SOURCES


def test_seed_appends_demo_access_records_once(session: Session) -> None:
    assert SEED_SOURCES["ledger"](session, False) == {"appended": 48}
    assert services.tree_size(session) == 48
    assert SEED_SOURCES["ledger"](session, False) == {"appended": 0}
    entry = services.entry(session, 0)
    assert entry.startswith(b"tsunagu/access-record/v1 ")
