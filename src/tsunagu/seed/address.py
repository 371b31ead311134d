"""Seed source ``address``: the shipped ABR files (data/abr-data/), imported once.

The address importer checkpoints every file by its content hash, so a later start (or an
interrupted first one) only imports what is not there yet. Current files come before the
2022 national town master: newest wins per municipality either way, but this order makes the
older rows of 東京都/和歌山県/宮崎県 "superseded" instead of a first load followed by changes.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from tsunagu.registries.address import import_files

from .sources import DATA

ABR = DATA / "abr-data"
SLICES = DATA / "abr-geocoder-v1-slices"
CURRENT_PREFS = ("13", "30", "45")


def address_files() -> list[Path]:
    """The shipped ABR files in import order (each blockList.json gives two sources)."""
    return [
        ABR / "mt_pref_all.csv.zip",
        ABR / "mt_pref_pos_all.csv.zip",
        ABR / "mt_city_all.csv.zip",
        ABR / "mt_city_pos_all.csv.zip",
        *(ABR / f"mt_town_pref{p}.csv.zip" for p in CURRENT_PREFS),
        *(ABR / f"mt_town_pos_pref{p}.csv.zip" for p in CURRENT_PREFS),
        *sorted((ABR / "abr-2022-04").glob("mt_town_pref*.csv.zip")),
        *(ABR / f"mt_rsdtdsp_rsdt_pref{p}.csv.zip" for p in ("13", "30")),
        *(ABR / f"mt_rsdtdsp_rsdt_pos_pref{p}.csv.zip" for p in ("13", "30")),
        ABR / "mt_parcel_city465054.csv.zip",
        ABR / "mt_parcel_pos_city465054.csv.zip",
        *sorted(SLICES.rglob("blockList.json")),  # 住居表示 街区 of four 東京都 町字
    ]


def load_address(bind: Engine | Connection | Session, progress: bool = False) -> dict[str, int]:
    """Import every shipped ABR file not imported yet; counts summed over the files."""
    counts = {"files": 0, "skipped_files": 0, "rows": 0, "inserted": 0, "changed": 0,
              "superseded": 0, "broken": 0, "events": 0}  # fmt: skip
    for report in import_files(bind, address_files(), progress=progress):
        counts["files"] += 1
        counts["skipped_files"] += int(report.skipped)
        counts["rows"] += report.rows
        counts["inserted"] += report.inserted
        counts["changed"] += report.changed
        counts["superseded"] += report.superseded
        counts["broken"] += len(report.errors)
        counts["events"] += report.events
    return counts
