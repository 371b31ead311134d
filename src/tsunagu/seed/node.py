"""Seed data of a mesh node: only what its organization holds.

A municipality node gets the laws, the ABR prefecture/municipality masters and the town and
residence files of its prefecture, its organization and 500 synthetic residents; a National Tax
Agency node gets the laws and the corporate-number samples; any node gets the laws (access rules
cite them). The hub keeps the full seed (``tsunagu serve``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tsunagu.registries.address import import_files
from tsunagu.registries.residents import count_synthetic, generate

from .address import ABR
from .registers import load_corporations, load_laws
from .residents import MUNICIPALITIES, RESIDENTS_EACH, SEED, _organization

NAMES = {code: (name, title, title_en) for code, name, title, title_en in MUNICIPALITIES}


def prefecture_files(pref: str) -> list[Path]:
    return [
        ABR / "mt_pref_all.csv.zip", ABR / "mt_city_all.csv.zip",
        ABR / f"mt_town_pref{pref}.csv.zip", ABR / f"mt_rsdtdsp_rsdt_pref{pref}.csv.zip",
    ]  # fmt: skip


def load_node_seed(
    engine: Engine,
    lg_codes: Sequence[str] = (),
    *,
    corporations: bool = False,
    residents: int = RESIDENTS_EACH,
    progress: bool = False,
) -> dict[str, int]:
    """Load a node's seed (idempotent); returns counts."""
    counts: dict[str, int] = {}
    for key, value in load_laws(engine, progress).items():
        counts[f"laws.{key}"] = value
    for lg_code in lg_codes:
        files = [p for p in prefecture_files(lg_code[:2]) if p.exists()]
        for report in import_files(engine, files, progress=progress):
            counts["address.rows"] = counts.get("address.rows", 0) + report.rows
        with Session(engine) as session:
            name, title, title_en = NAMES.get(lg_code, (f"lg-{lg_code}", lg_code, ""))
            _organization(session, lg_code, name, title, title_en)
            if not count_synthetic(session, lg_code):
                report_r = generate(session, lg_code, residents, seed=SEED)
                counts[f"residents.{lg_code}"] = report_r.residents
            session.commit()
    if corporations:
        for key, value in load_corporations(engine, progress).items():
            counts[f"corporations.{key}"] = value
    return counts
