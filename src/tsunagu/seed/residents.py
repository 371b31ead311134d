"""Seed source ``residents``: two municipalities' organizations and their synthetic residents.

和歌山市 (302015) and 文京区 (131059) — both have 住居表示 residences in the shipped ABR files —
get an organization (unless one with their lg_code exists) and 500 synthetic residents each,
generated from a fixed seed. A municipality that already has synthetic residents is left as it
is. Runs after ``address``; without residences the generator falls back to town addresses.
No 法人番号 is set: none of theirs is among the verified samples we ship.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from tsunagu.accounts import Organization, create_organization
from tsunagu.kernel import ValidationProblem
from tsunagu.registries.residents import count_synthetic, generate

MUNICIPALITIES = (
    ("302015", "wakayama-city", "和歌山市", "Wakayama City"),
    ("131059", "bunkyo", "文京区", "Bunkyo City"),
)
RESIDENTS_EACH = 500
SEED = 1


def _organization(session: Session, lg_code: str, name: str, title: str, title_en: str) -> bool:
    """Make sure an organization with ``lg_code`` exists; True if it was created."""
    if session.scalar(select(Organization.id).where(Organization.lg_code == lg_code)):
        return False
    existing = session.scalar(select(Organization).where(Organization.name == name))
    if existing is not None:  # the catalog's publisher of the same name is that municipality
        if existing.title == title and existing.lg_code is None:
            existing.lg_code = lg_code
            return False
        name = f"{name}-{lg_code}"
    create_organization(session, name, title, title_en=title_en, lg_code=lg_code)
    return True


def load_residents(bind: Engine | Connection | Session, progress: bool = False) -> dict[str, int]:
    """Create the organizations and generate their residents (idempotent)."""
    counts = {"organizations_new": 0, "residents": 0, "households": 0, "skipped": 0}
    session = bind if isinstance(bind, Session) else Session(bind=bind)
    try:
        for lg_code, name, title, title_en in MUNICIPALITIES:
            counts["organizations_new"] += int(_organization(session, lg_code, name, title,
                                                             title_en))  # fmt: skip
            if count_synthetic(session, lg_code):
                counts["skipped"] += 1
                continue
            try:
                report = generate(session, lg_code, RESIDENTS_EACH, seed=SEED)
            except ValidationProblem:  # no towns of it loaded: nowhere to place people
                counts["skipped"] += 1
                continue
            counts["residents"] += report.residents
            counts["households"] += report.households
        if isinstance(bind, Session):
            session.flush()
        else:
            session.commit()
    finally:
        if not isinstance(bind, Session):
            session.close()
    return counts
