"""Seed sources of the corporate registry and the laws registry (see data/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from tsunagu.registries.corporations import import_file, link_addresses
from tsunagu.registries.laws import import_law_file

from .sources import DATA

CORPORATE_FILES = sorted((DATA / "corporate-number" / "nta-webapi-v4-samples").iterdir()) + sorted(
    (DATA / "corporate-number" / "gbizinfo-v2").glob("*.json")
)
LAW_FILES = sorted((DATA / "laws" / "egov-law-api-v2").glob("*.json"))


def _files(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.suffix in (".csv", ".xml", ".json")]


def load_corporations(
    bind: Engine | Connection | Session, progress: bool = False
) -> dict[str, int]:
    """Import the NTA samples and gBizINFO answers (idempotent: known files are skipped)."""
    counts = {"files": 0, "inserted": 0, "unchanged": 0, "rejected": 0, "skipped_files": 0}
    session = bind if isinstance(bind, Session) else Session(bind=bind)
    try:
        for path in _files(CORPORATE_FILES):
            report = import_file(session, path.read_bytes(), f"seed:{path.name}")
            counts["files"] += 1
            counts["skipped_files"] += int(report.already_imported)
            counts["inserted"] += report.inserted
            counts["unchanged"] += report.unchanged
            counts["rejected"] += report.rejected
        counts["linked"] = link_addresses(session)
        _finish(bind, session)
    finally:
        if not isinstance(bind, Session):
            session.close()
    return counts


def load_laws(bind: Engine | Connection | Session, progress: bool = False) -> dict[str, int]:
    """Import the e-Gov 法令API v2 answers (idempotent)."""
    counts = {"files": 0, "revisions_new": 0, "units": 0}
    session = bind if isinstance(bind, Session) else Session(bind=bind)
    try:
        for path in _files(LAW_FILES):
            report = import_law_file(session, path.read_bytes(), f"seed:{path.name}")
            counts["files"] += 1
            counts["revisions_new"] += report.revisions_new
            counts["units"] += report.units
        _finish(bind, session)
    finally:
        if not isinstance(bind, Session):
            session.close()
    return counts


def _finish(bind: Engine | Connection | Session, session: Session) -> None:
    if isinstance(bind, Session):
        session.flush()
    else:
        session.commit()
