"""Seed source ``ledger``: a few dozen synthetic access records, so the demo's log can be read.

Pseudonyms are synthetic (``demo-…``); organizations are real, by their corporate numbers
(法人番号); legal bases name 番号法 (平成25年法律第27号) articles by e-Gov law id.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from tsunagu.ledger import AccessRecord, AccessRecordIn, Organization, append_access_records

RECORDS = 48
MYNUMBER_ACT = (
    "425AC0000000027"  # 行政手続における特定の個人を識別するための番号の利用等に関する法律
)

ORGS = [
    Organization(id="JP/MUN/6000020302015", name="和歌山市"),
    Organization(id="JP/GOV/7000012050002", name="国税庁"),
    Organization(id="JP/GOV/6000012070001", name="厚生労働省"),
    Organization(id="JP/MUN/8000020130001", name="東京都"),
]
FLOWS = [  # requester, provider, items, purpose, article
    (1, 0, ("地方税関係情報/課税所得",), "所得税の確定申告内容の確認", "Art19"),
    (2, 0, ("住民票関係情報/世帯構成",), "児童手当の認定", "Art19"),
    (0, 2, ("医療保険給付関係情報",), "高額療養費の支給", "Art19"),
    (3, 0, ("地方税関係情報/所得割額",), "高等学校等就学支援金の認定", "Art19"),
]


def load_ledger(bind: Engine | Connection | Session, progress: bool = False) -> dict[str, int]:
    """Append the demo access records once (a log that has any record is left as it is)."""
    session = bind if isinstance(bind, Session) else Session(bind=bind)
    try:
        if session.scalar(select(AccessRecord.idx).limit(1)) is not None:
            return {"appended": 0}
        rng = random.Random(6)  # noqa: S311 - the same demo log everywhere; no secrets
        start = datetime(2026, 4, 1, 9, 0)  # noqa: DTZ001 - naive UTC, as stored
        records = []
        for n in range(RECORDS):
            requester, provider, items, purpose, article = FLOWS[n % len(FLOWS)]
            records.append(AccessRecordIn(
                accessed_at=start + timedelta(hours=7 * n, minutes=rng.randrange(60)),
                requester=ORGS[requester], provider=ORGS[provider],
                pseudonym=f"demo-{ORGS[provider].id.split('/')[2]}-{rng.randrange(10**6):06d}",
                data_items=items, purpose=purpose, legal_basis=f"{MYNUMBER_ACT}#{article}",
                case_id=f"DEMO-{2026}-{n + 1:04d}", message_id=f"demo-msg-{n + 1:04d}",
                hidden_until=start + timedelta(days=365) if n % 12 == 11 else None,
            ))  # fmt: skip
        append_access_records(session, records)
        if not isinstance(bind, Session):
            session.commit()
        return {"appended": len(records)}
    finally:
        if not isinstance(bind, Session):
            session.close()
