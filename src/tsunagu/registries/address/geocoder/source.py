"""Where the geocoder reads ABR rows from: the registry database or the published CSV zips."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

Row = dict[str, Any]

# The 2022 town masters carry Japanese headers in the same order as today's English ones, minus
# machiaza_dist (today's column 25); SOURCES.md documents the mapping.
_TOWN_COLUMNS = [
    "lg_code",
    "machiaza_id",
    "machiaza_type",
    "pref",
    "pref_kana",
    "pref_roma",
    "county",
    "county_kana",
    "county_roma",
    "city",
    "city_kana",
    "city_roma",
    "ward",
    "ward_kana",
    "ward_roma",
    "oaza_cho",
    "oaza_cho_kana",
    "oaza_cho_roma",
    "chome",
    "chome_kana",
    "chome_number",
    "koaza",
    "koaza_kana",
    "koaza_roma",
    "machiaza_dist",
    "rsdt_addr_flg",
    "rsdt_addr_mtd_code",
    "oaza_cho_aka_flg",
    "koaza_aka_code",
    "oaza_cho_gsi_uncmn",
    "koaza_gsi_uncmn",
    "status_flg",
    "wake_num_flg",
    "efct_date",
    "ablt_date",
    "src_code",
    "post_code",
    "remarks",
]
_OLD_TOWN_COLUMNS = [c for c in _TOWN_COLUMNS if c != "machiaza_dist"]

_KINDS = (  # file-name pattern → dataset kind; the _pos files join on the kind's key
    ("pref_pos", re.compile(r"^mt_pref_pos_")),
    ("pref", re.compile(r"^mt_pref_")),
    ("city_pos", re.compile(r"^mt_city_pos_")),
    ("city", re.compile(r"^mt_city_")),
    ("town_pos", re.compile(r"^mt_town_pos_")),
    ("town", re.compile(r"^mt_town_")),
    ("blk_pos", re.compile(r"^mt_rsdtdsp_blk_pos_")),
    ("blk", re.compile(r"^mt_rsdtdsp_blk_")),
    ("rsdt_pos", re.compile(r"^mt_rsdtdsp_rsdt_pos_")),
    ("rsdt", re.compile(r"^mt_rsdtdsp_rsdt_")),
    ("parcel_pos", re.compile(r"^mt_parcel_pos_")),
    ("parcel", re.compile(r"^mt_parcel_")),
)
_KEYS = {
    "pref": ("lg_code",),
    "city": ("lg_code",),
    "town": ("lg_code", "machiaza_id"),
    "blk": ("lg_code", "machiaza_id", "blk_id"),
    "rsdt": ("lg_code", "machiaza_id", "blk_id", "rsdt_id", "rsdt2_id"),
    "parcel": ("lg_code", "machiaza_id", "prc_id"),
}


class AddressSource(Protocol):
    """Streams of ABR rows (dicts keyed by ABR column names, with rep_lat/rep_lon where known)."""

    def version(self) -> str:
        """Changes whenever the rows would (the index is rebuilt when it does)."""
        ...

    def iter_prefectures(self) -> Iterator[Row]: ...

    def iter_municipalities(self) -> Iterator[Row]: ...

    def iter_towns(self) -> Iterator[Row]: ...

    def iter_blocks(self) -> Iterator[Row]: ...

    def iter_residences(self) -> Iterator[Row]: ...

    def iter_parcels(self) -> Iterator[Row]: ...


def dataset_kind(path: Path) -> str | None:
    """The ABR dataset a file holds, from its published name (mt_town_pref13.csv.zip → town)."""
    for kind, pattern in _KINDS:
        if pattern.match(path.name):
            return kind
    return None


def read_abr_csv(path: Path) -> Iterator[Row]:
    """Rows of one ABR CSV zip (or plain CSV), BOM-tolerant; old Japanese headers renamed."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            for name in names:
                with archive.open(name) as raw:
                    yield from _read_rows(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
    else:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from _read_rows(handle)


def _read_rows(handle: io.TextIOBase | Any) -> Iterator[Row]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        return
    if header and header[0] == "全国地方公共団体コード":
        header = _OLD_TOWN_COLUMNS
    header = [h.strip() for h in header]
    width = len(header)
    for values in reader:
        if len(values) < width:
            values = values + [""] * (width - len(values))
        yield {h: (v.strip() or None) for h, v in zip(header, values, strict=False)}


class FileAddressSource:
    """Reads the published ABR CSV zips directly (tests, the accuracy report, the benchmark).

    Town masters: a file with today's English headers wins over a 2022 one (Japanese headers)
    for every municipality it covers, so the newest data is used where both exist.
    """

    def __init__(self, paths: Iterable[Path]) -> None:
        self.files: dict[str, list[Path]] = {}
        for path in sorted(Path(p) for p in paths):
            kind = dataset_kind(path)
            if kind:
                self.files.setdefault(kind, []).append(path)

    @classmethod
    def from_directory(cls, root: Path) -> FileAddressSource:
        """Every ABR file under ``root`` (recursively)."""
        return cls(p for p in root.rglob("mt_*.csv*") if p.is_file())

    def version(self) -> str:
        digest = hashlib.sha256()
        for kind in sorted(self.files):
            for path in self.files[kind]:
                stat = path.stat()
                digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()[:16]

    def _positions(self, kind: str) -> dict[tuple[Any, ...], tuple[float, float]]:
        key = _KEYS[kind]
        positions: dict[tuple[Any, ...], tuple[float, float]] = {}
        for path in self.files.get(f"{kind}_pos", []):
            for row in read_abr_csv(path):
                lat, lon = _float(row.get("rep_lat")), _float(row.get("rep_lon"))
                if lat is not None and lon is not None:
                    positions[tuple(row.get(k) for k in key)] = (lat, lon)
        return positions

    def _iter(self, kind: str, paths: Iterable[Path] | None = None) -> Iterator[Row]:
        positions = self._positions(kind)
        key = _KEYS[kind]
        for path in self.files.get(kind, []) if paths is None else paths:
            for row in read_abr_csv(path):
                pos = positions.get(tuple(row.get(k) for k in key))
                if pos is not None:
                    row["rep_lat"], row["rep_lon"] = pos
                yield row

    def iter_prefectures(self) -> Iterator[Row]:
        return self._iter("pref")

    def iter_municipalities(self) -> Iterator[Row]:
        return self._iter("city")

    def iter_towns(self) -> Iterator[Row]:
        current = [p for p in self.files.get("town", []) if not _is_old_town_file(p)]
        old = [p for p in self.files.get("town", []) if _is_old_town_file(p)]
        covered: set[str] = set()
        for row in self._iter("town", current):
            covered.add(row["lg_code"])
            yield row
        for row in self._iter("town", old):
            if row["lg_code"] not in covered:
                yield row

    def iter_blocks(self) -> Iterator[Row]:
        return self._iter("blk")

    def iter_residences(self) -> Iterator[Row]:
        return self._iter("rsdt")

    def iter_parcels(self) -> Iterator[Row]:
        return self._iter("parcel")


def _is_old_town_file(path: Path) -> bool:
    for row in read_abr_csv(path):
        return "chome_number" in row and "machiaza_dist" not in row
    return False


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
