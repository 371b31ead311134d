"""Accuracy suites for the geocoder: abr-geocoder's fixtures, Geolonia's cases, the parser's cases.

Each suite counts a case only if its municipality (and, for abr-geocoder's 住居表示/地番
expectations, the data of that level) is covered by the loaded ABR files.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import SHARED
from tsunagu.registries.address.geocoder import AddressIndex, Geocoder, GeocodeResult, fold
from tsunagu.registries.address.geocoder.normalize import clean

ABR_FIXTURES = SHARED / "abr-geocoder" / "e2e" / "test-data"
GEOLONIA_CASES = SHARED / "normalize-japanese-addresses" / "addresses.csv"
PARSER_CASES = SHARED / "japanese-address-parser" / "tests" / "test_data"

# abr-geocoder's e2e runner compares with Jest's toMatchObject: every field the expectation
# writes, and only those (a field an expectation leaves out is not checked). Positions depend on
# the data vintage (we load 2022 town masters for most of the country), so they are reported
# but not required; identifiers, names, levels, output and others are.
STRICT_FIELDS = (
    "output", "others", "match_level", "lg_code", "machiaza_id", "rsdt_addr_flg", "blk_id",
    "rsdt_id", "rsdt2_id", "prc_id", "pref", "county", "city", "ward", "oaza_cho", "chome",
    "koaza", "blk_num", "rsdt_num", "rsdt_num2", "prc_num1", "prc_num2", "prc_num3",
)  # fmt: skip


@dataclass
class SuiteReport:
    """Counts and a sample of failures for one suite."""

    name: str
    cases: int = 0
    in_coverage: int = 0
    passed: int = 0
    town_cases: int = 0  # 町字-level comparison (abr-geocoder suite only)
    town_passed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def out_of_coverage(self) -> int:
        return self.cases - self.in_coverage

    @property
    def rate(self) -> float:
        return self.passed / self.in_coverage if self.in_coverage else 0.0

    @property
    def town_rate(self) -> float:
        return self.town_passed / self.town_cases if self.town_cases else 0.0

    def fail(self, text: str) -> None:
        if len(self.failures) < 15:
            self.failures.append(text)


def _strip_aza(name: str) -> str:
    key = fold(clean(name))
    for prefix in ("大字", "字"):
        key = key.removeprefix(prefix)
    return key.replace("字", "")


def abr_geocoder_cases() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(case folder, target, expected element) for every expectation file."""
    for path in sorted(ABR_FIXTURES.glob("*/*expects.json")):
        target = path.name.split("-")[0] if "-" in path.name else "all"
        for element in json.loads(path.read_text(encoding="utf-8")):
            yield path.parent.name, target, element


def _level_covered(index: AddressIndex, expected: dict[str, Any]) -> bool:
    lg = expected.get("lg_code")
    level = expected["match_level"]
    if not lg or lg not in index.cities:
        return False
    if level in ("prefecture", "city"):
        return True
    table = index.towns.get(lg)
    if table is None:
        return False
    known = {
        t.machiaza_id
        for node in table.keys.values()
        for t in (node.base, *node.koaza.values())
        if t is not None
    }
    if expected.get("machiaza_id") not in known:
        return False  # the 町字 is newer (or older) than the loaded town master
    if level.startswith("residential"):
        return lg in index.rsdt_lg_codes
    if level == "parcel":
        return lg in index.parcel_lg_codes
    return True


def differing_fields(got: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """The strict fields where ``got`` differs from ``expected``, as ``toMatchObject`` sees it."""
    return [f for f in STRICT_FIELDS if f in expected and got[f] != expected[f]]


def run_abr_geocoder(geocoder: Geocoder) -> SuiteReport:
    report = SuiteReport("abr-geocoder e2e fixtures (tag 2.2.1)")
    index = geocoder.index
    for folder, target, element in abr_geocoder_cases():
        report.cases += 1
        expected = element["result"]
        lg = expected.get("lg_code")
        got = geocoder.geocode(element["query"]["input"], target).result()
        if lg and lg in index.towns:
            report.town_cases += 1
            if got["lg_code"] == lg and got["machiaza_id"] == expected.get("machiaza_id"):
                report.town_passed += 1
        if not _level_covered(index, expected):
            continue
        report.in_coverage += 1
        diffs = differing_fields(got, expected)
        if not diffs:
            report.passed += 1
        else:
            report.fail(
                f"{folder}: `{element['query']['input']}` — "
                + "; ".join(f"{f}: {got[f]!r} ≠ {expected.get(f)!r}" for f in diffs[:3])
            )
    return report


def _csv_cases(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        lines = (line for line in handle if line.strip() and not line.startswith("#"))
        yield from csv.DictReader(lines)


def _municipality(index: AddressIndex, pref: str, city: str) -> str | None:
    wanted = fold(clean(pref + city))
    for c in index.cities.values():
        for name in (
            c.pref + c.city + (c.ward or ""),
            c.pref + (c.county or "") + c.city + (c.ward or ""),
        ):
            if fold(clean(name)) == wanted:
                return c.lg_code
    return None


def _agrees(index: AddressIndex, got: GeocodeResult, lg: str, town: str) -> bool:
    if got.lg_code != lg:
        return False
    if not town:
        return got.match_level in ("city",) or got.oaza_cho is None
    wanted = _strip_aza(town)
    ours = [
        (got.oaza_cho or "") + (got.chome or ""),
        (got.oaza_cho or "") + (got.chome or "") + (got.koaza or ""),
    ]
    return any(_strip_aza(o) == wanted for o in ours if o)


def _run_town_suite(
    geocoder: Geocoder, name: str, rows: Iterator[tuple[str, str, str, str]]
) -> SuiteReport:
    report = SuiteReport(name)
    index = geocoder.index
    lg_cache: dict[tuple[str, str], str | None] = {}
    for address, pref, city, town in rows:
        report.cases += 1
        lg = lg_cache.get((pref, city))
        if (pref, city) not in lg_cache:
            lg = lg_cache[(pref, city)] = _municipality(index, pref, city)
        if lg is None or lg not in index.towns:
            continue
        report.in_coverage += 1
        got = geocoder.geocode(address)
        if _agrees(index, got, lg, town):
            report.passed += 1
        else:
            report.fail(
                f"`{address}` — expected {pref}{city} {town or '(no 町字)'}, got "
                f"{got.match_level} {got.pref or ''}{got.city or ''}{got.ward or ''} "
                f"{(got.oaza_cho or '') + (got.chome or '') + (got.koaza or '')}"
            )
    return report


def run_geolonia(geocoder: Geocoder) -> SuiteReport:
    def rows() -> Iterator[tuple[str, str, str, str]]:
        for row in _csv_cases(GEOLONIA_CASES):
            yield row["住所"], row["都道府県"], row["市区町村"], row["町字"]

    return _run_town_suite(geocoder, "Geolonia normalize-japanese-addresses (7,190 cases)", rows())


def run_parser(geocoder: Geocoder) -> SuiteReport:
    def rows() -> Iterator[tuple[str, str, str, str]]:
        for path in sorted(PARSER_CASES.glob("*.csv")):
            for row in _csv_cases(path):
                yield row["address"], row["prefecture"], row["city"], row["town"]

    return _run_town_suite(geocoder, "japanese-address-parser variant cases", rows())
