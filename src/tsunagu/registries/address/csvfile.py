"""Reading one ABR distribution file: zipped (or plain) UTF-8 CSV with a header row, streamed.

Recognises the file kind from its name (``mt_town_pref13.csv`` → ``mt_town``), maps the older
Japanese column headers of the 2022 distributions to today's ABR names, and turns each line into
typed values — or a :class:`RowError` with its line number, so one broken row never stops a file.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from .errors import AddressImportError
from .models import DATES, KINDS, Kind

KIND_RE = re.compile(
    r"(mt_(?:pref|city|town|rsdtdsp_blk|rsdtdsp_rsdt|parcel)(?:_pos)?)_(?:all|pref\d\d|city\d{6})"
)
# The 2022 distributions (e.g. abr-2022-04) name the same columns, in the same order, in Japanese.
OLD_HEADERS = {
    "全国地方公共団体コード": "lg_code", "町字id": "machiaza_id", "町字区分コード": "machiaza_type",
    "都道府県名": "pref", "都道府県名_カナ": "pref_kana", "都道府県名_英字": "pref_roma",
    "郡名": "county", "郡名_カナ": "county_kana", "郡名_英字": "county_roma",
    "市区町村名": "city", "市区町村名_カナ": "city_kana", "市区町村名_英字": "city_roma",
    "政令市区名": "ward", "政令市区名_カナ": "ward_kana", "政令市区名_英字": "ward_roma",
    "大字・町名": "oaza_cho", "大字・町名_カナ": "oaza_cho_kana",
    "大字・町名_英字": "oaza_cho_roma",
    "丁目名": "chome", "丁目名_カナ": "chome_kana", "丁目名_数字": "chome_number",
    "小字名": "koaza", "小字名_カナ": "koaza_kana", "小字名_英字": "koaza_roma",
    "住居表示フラグ": "rsdt_addr_flg", "住居表示方式コード": "rsdt_addr_mtd_code",
    "大字・町_通称フラグ": "oaza_cho_aka_flg", "小字_通称フラグ": "koaza_aka_code",
    "大字・町外字フラグ": "oaza_cho_gsi_uncmn", "小字外字フラグ": "koaza_gsi_uncmn",
    "状態フラグ": "status_flg", "起番フラグ": "wake_num_flg", "効力発生日": "efct_date",
    "廃止日": "ablt_date", "原典資料コード": "src_code", "郵便番号": "post_code", "備考": "remarks",
    "街区id": "blk_id", "住居id": "rsdt_id", "住居2id": "rsdt2_id", "地番id": "prc_id",
    "代表点_経度": "rep_lon", "代表点_緯度": "rep_lat", "代表点_座標参照系": "rep_srid",
    "代表点_地図情報レベル": "rep_scale", "代表点_位置参照情報_原典資料コード": "rep_src_code",
}  # fmt: skip
DIGITS = {"lg_code": 6, "machiaza_id": 7}


@dataclass(frozen=True)
class RowError:
    """A line of a file that could not be imported, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class CsvSource:
    """One CSV of an ABR distribution: where it is, what kind, and the publisher's file date."""

    path: Path
    member: str  # name of the CSV inside the zip ("" for a plain CSV file)
    kind: Kind
    file_date: date
    sha256: str
    partial: bool = False  # ABR distributions hold whole municipalities

    @property
    def label(self) -> str:
        return f"{self.path.name}:{self.member}" if self.member else self.path.name

    def rows(self) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
        return iter(RowReader(self))


class Source(Protocol):
    """Anything the importer can read: a kind, a file date, a content hash and rows."""

    path: Path
    member: str
    kind: Kind
    file_date: date
    sha256: str
    partial: bool  # holds only some rows of its municipalities: missing rows are not withdrawn

    @property
    def label(self) -> str: ...

    def rows(self) -> Iterator[tuple[int, dict[str, Any] | RowError]]: ...


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def kind_of(name: str) -> Kind | None:
    match = KIND_RE.search(Path(name).name)
    return KINDS[match.group(1)] if match else None


def open_sources(path: Path) -> list[CsvSource]:
    """The CSVs of a zip (or one plain CSV); raises :class:`AddressImportError` if unreadable."""
    if not path.is_file():
        raise AddressImportError(f"{path}: no such file")
    sha = sha256_of(path)
    if path.suffix.lower() == ".csv":
        kind = kind_of(path.name)
        if kind is None:
            raise AddressImportError(f"{path.name}: not an ABR file name (mt_town_pref13.csv …)")
        mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date()
        return [CsvSource(path, "", kind, mtime, sha)]
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise AddressImportError(
            f"{path.name}: not a readable zip file (truncated or damaged: {exc})"
        ) from exc
    if not members:
        raise AddressImportError(f"{path.name}: the zip holds no CSV file")
    found = []
    for info in members:
        kind = kind_of(info.filename) or kind_of(path.name)
        if kind is None:
            raise AddressImportError(
                f"{path.name}: {info.filename} is not an ABR file name (mt_town_pref13.csv …)"
            )
        found.append(CsvSource(path, info.filename, kind, date(*info.date_time[:3]), sha))
    return found


def _converter(name: str) -> Callable[[str], Any]:
    if name in DATES:
        return date.fromisoformat
    if name in ("rep_lat", "rep_lon"):
        return float
    if name == "rep_scale":
        return int
    return str


class RowReader:
    """Iterates a CSV as ``(line, values)`` or ``(line, RowError)``; values keyed by ABR name."""

    def __init__(self, source: CsvSource) -> None:
        self.source = source
        self.kind = source.kind
        self.wanted = (*source.kind.keys, *source.kind.fields)

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
        try:
            with contextlib.ExitStack() as stack:
                raw = self._open(stack)
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                yield from self._rows(csv.reader(text))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise AddressImportError(
                f"{self.source.label}: the file is truncated or damaged ({exc})"
            ) from exc
        except UnicodeDecodeError as exc:
            raise AddressImportError(
                f"{self.source.label}: not UTF-8 text, or damaged ({exc.reason})"
            ) from exc
        except csv.Error as exc:
            raise AddressImportError(f"{self.source.label}: unreadable CSV ({exc})") from exc

    def _open(self, stack: contextlib.ExitStack) -> IO[bytes]:
        if not self.source.member:
            return stack.enter_context(self.source.path.open("rb"))
        archive = stack.enter_context(zipfile.ZipFile(self.source.path))
        return stack.enter_context(archive.open(self.source.member))

    def _rows(self, reader: Any) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
        header = next(reader, None)
        if header is None:
            raise AddressImportError(f"{self.source.label}: empty file (no header row)")
        names = [OLD_HEADERS.get(h.strip(), h.strip()) for h in header]
        missing = [k for k in self.kind.keys if k not in names]
        if missing:
            raise AddressImportError(
                f"{self.source.label}: header lacks {', '.join(missing)} for {self.kind.name}"
            )
        positions = [(i, n, _converter(n)) for i, n in enumerate(names) if n in self.wanted]
        width = len(names)
        for cells in reader:
            line = reader.line_num
            if not cells or cells == [""]:
                continue
            if len(cells) != width:
                yield line, RowError(line, f"{len(cells)} fields, the header has {width}")
                continue
            yield line, self._convert(line, cells, positions)

    def _convert(
        self, line: int, cells: list[str], positions: list[tuple[int, str, Callable[[str], Any]]]
    ) -> dict[str, Any] | RowError:
        values: dict[str, Any] = dict.fromkeys(self.wanted)
        for index, name, convert in positions:
            # 原典資料コード carries a trailing space in the 2022 files ("0 "): strip every cell.
            cell = cells[index].strip()
            if not cell:
                continue
            if "\x00" in cell:
                return RowError(line, f"{name} contains a NUL character")
            try:
                values[name] = convert(cell)
            except ValueError:
                return RowError(line, f"{name} {cell[:40]!r} is not a valid value")
        for key in self.kind.keys:
            value = values[key] or ""
            digits = DIGITS.get(key)
            if digits and not (len(value) == digits and value.isascii() and value.isdigit()):
                return RowError(line, f"{key} {value[:40]!r} is not {digits} digits")
            if not value and key != "rsdt2_id":
                return RowError(line, f"{key} is empty")
            values[key] = value
        return values
