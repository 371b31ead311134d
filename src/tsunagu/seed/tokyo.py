"""東京都オープンデータカタログ: the 2022 package_show dump and the 2026 records."""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tsunagu.kernel import is_valid_lg_code

from .ckan import package_to_record, unwrap
from .codelists import read_municipalities
from .records import BadRecord, DatasetRecord, OrgRecord

log = logging.getLogger(__name__)

TOKYO_LG_CODE = "130001"
# Organization names on the Tokyo portal: t + 6-digit code. 000xxx are 東京都 bureaus and
# committees; 13xxxx are 区市町村 by their 全国地方公共団体コード; 001xxx are other bodies
# (東京ビッグサイト), whose area we do not know.
_BUREAU = re.compile(r"^t000\d{3}$")
_MUNICIPALITY = re.compile(r"^t(13\d{4})$")


@dataclass
class ReadResult:
    """Records read from a file, with what was rejected and why (first few reasons)."""

    records: list[DatasetRecord] = field(default_factory=list)
    bad: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, where: str, exc: Exception) -> None:
        self.bad += 1
        if len(self.reasons) < 20:
            self.reasons.append(f"{where}: {exc}")
        log.warning("seed: skipped %s: %s", where, exc)


class TokyoPublishers:
    """Derives a Tokyo publisher's 全国地方公共団体コード and the datasets' spatial coverage.

    A 区市町村 organization gets its code only if the code is in the ABR municipality list *and*
    the ABR name equals the organization's title, so a renamed or mislabelled organization is
    left without one rather than given a wrong code.
    """

    def __init__(self) -> None:
        self._names = {code: name for code, name in read_municipalities() if code.startswith("13")}

    def organization(self, org: OrgRecord) -> OrgRecord:
        code = self.municipality_code(org)
        return replace(org, lg_code=code) if code else org

    def municipality_code(self, org: OrgRecord) -> str | None:
        match = _MUNICIPALITY.match(org.name)
        if match and self._names.get(match.group(1)) == org.title:
            return match.group(1)
        return None

    def coverage(self, org: OrgRecord) -> list[str]:
        if org.lg_code:
            return [org.lg_code]
        if _BUREAU.match(org.name) and is_valid_lg_code(TOKYO_LG_CODE):
            return [TOKYO_LG_CODE]
        return []


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        yield from enumerate(fh, start=1)


def read_dump(path: Path, *, progress: bool = False, total: int | None = None) -> ReadResult:
    """Read a JSON-lines file of package_show envelopes; bad lines are counted, not fatal."""
    publishers = TokyoPublishers()
    result = ReadResult()
    number = 0
    with tqdm(total=total, desc="tokyo: read", unit="ds", disable=not progress, leave=False) as bar:
        try:
            for number, line in _lines(path):
                bar.update(1)
                if not line.strip():
                    continue
                try:
                    package = unwrap(json.loads(line))
                    result.records.append(
                        package_to_record(
                            package,
                            organization=publishers.organization,
                            municipalities=publishers.coverage,
                        )
                    )
                except (ValueError, BadRecord, KeyError, TypeError, AttributeError) as exc:
                    result.reject(f"{path.name}:{number}", exc)
        except (OSError, EOFError) as exc:
            # A truncated or corrupt archive: keep what was read before the damage.
            result.reject(f"{path.name} after line {number}", exc)
    return result


def read_packages(paths: list[Path]) -> ReadResult:
    """Read single package_show files (the 2026-era records)."""
    publishers = TokyoPublishers()
    result = ReadResult()
    for path in paths:
        try:
            package = unwrap(json.loads(path.read_text(encoding="utf-8")))
            result.records.append(
                package_to_record(
                    package,
                    organization=publishers.organization,
                    municipalities=publishers.coverage,
                )
            )
        except (OSError, ValueError, BadRecord, KeyError, TypeError, AttributeError) as exc:
            result.reject(path.name, exc)
    return result
