"""Seed data for a new installation: licences, code lists and real catalog records."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tsunagu.catalog import Dataset, ensure_licenses


def load_seed(
    engine: Engine, only: tuple[str, ...] | None = None, progress: bool = False
) -> dict[str, int]:
    """Load every seed source (idempotent); returns counts per source."""
    with Session(engine) as session:
        counts = {"licenses": ensure_licenses(session)}
        session.commit()
    return counts


def seed_if_empty(engine: Engine, progress: bool = False) -> dict[str, int]:
    with Session(engine) as session:
        if session.scalar(select(func.count()).select_from(Dataset)):
            return {}
    return load_seed(engine, progress=progress)
