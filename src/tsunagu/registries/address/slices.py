"""Small real ABR 住居表示 街区 extracts in abr-geocoder v1's test format (``blockList.json``).

No ``mt_rsdtdsp_blk`` CSV is in the shipped data, but abr-geocoder v1 (digital-go-jp, MIT) keeps
real 街区 rows of a few towns (千代田区 紀尾井町 and 九段南一丁目, 文京区 本駒込二丁目, 港区
三田二丁目) as JSON: ``lg_code, town_id (= machiaza_id), blk_id, pref, city, town, blk, lat, lon``.
Each file becomes two sources — 街区 rows (``mt_rsdtdsp_blk``) and their positions — imported
like any ABR file. ``town`` is the whole 町字 name (大字・町+丁目) and is not split; the 町字
itself comes from the town master by (lg_code, machiaza_id).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .csvfile import RowError, sha256_of
from .errors import AddressImportError
from .models import KINDS, Kind

# The abr-geocoder commit the extracts were taken from (v1 line, 2024-02-15).
SLICE_DATE = date(2024, 2, 15)


@dataclass
class BlockListSource:
    """One blockList.json read as 街区 rows or as their positions."""

    path: Path
    member: str
    kind: Kind
    file_date: date
    sha256: str
    partial: bool = True  # a few 町字 of a municipality: other 街区 are not withdrawn

    @property
    def label(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}:{self.kind.name}"

    def rows(self) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
        try:
            items = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AddressImportError(f"{self.label}: not a readable JSON file ({exc})") from exc
        if not isinstance(items, list):
            raise AddressImportError(f"{self.label}: expected a JSON list of 街区")
        for number, item in enumerate(items, start=1):
            yield number, self._row(number, item)

    def _row(self, number: int, item: Any) -> dict[str, Any] | RowError:
        if not isinstance(item, dict):
            return RowError(number, "not an object")
        values: dict[str, Any] = dict.fromkeys((*self.kind.keys, *self.kind.fields))
        values |= {
            "lg_code": str(item.get("lg_code") or ""),
            "machiaza_id": str(item.get("town_id") or ""),
            "blk_id": str(item.get("blk_id") or ""),
        }
        if not all(values[k] for k in self.kind.keys):
            return RowError(number, "lg_code, town_id or blk_id is missing")
        if self.kind.is_position:
            lat, lon = item.get("lat"), item.get("lon")
            if not isinstance(lat, int | float) or not isinstance(lon, int | float):
                return RowError(number, "lat/lon are not numbers")
            return values | {"rep_lat": float(lat), "rep_lon": float(lon), "rep_srid": "EPSG:6668"}
        return values | {"city": item.get("city") or None, "blk_num": item.get("blk") or None}


def open_block_list(path: Path) -> list[BlockListSource]:
    """The 街区 rows and positions of an abr-geocoder v1 ``blockList.json``."""
    if not path.is_file():
        raise AddressImportError(f"{path}: no such file")
    sha = sha256_of(path)
    return [
        BlockListSource(path, name, KINDS[name], SLICE_DATE, sha)
        for name in ("mt_rsdtdsp_blk", "mt_rsdtdsp_blk_pos")
    ]
