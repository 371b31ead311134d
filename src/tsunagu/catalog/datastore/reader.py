"""Read a CSV or XLSX file as a header and a stream of rows, whatever its encoding.

CSV encodings: UTF-8 with or without BOM, UTF-16 with BOM, and Shift_JIS read as CP932 (its
Windows superset, which Japanese municipalities' spreadsheets write). The encoding is decided
by decoding the whole file strictly, never by guessing from its first bytes: a CP932 file whose
first rows are ASCII would otherwise be read as UTF-8 and fail halfway through the load.
Rows are numbered as Frictionless numbers them: the header is row 1.
"""

from __future__ import annotations

import codecs
import csv
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from .errors import DatastoreLoadError

CHUNK = 1 << 20
ZIP_MAGIC = b"PK\x03\x04"
# A zip that inflates past this many times its size, and past INFLATION_FLOOR bytes, is treated
# as a zip bomb (the quality check uses the same rule).
MAX_INFLATION = 200
INFLATION_FLOOR = 100_000_000
# Longest cell read, in characters: an unterminated quote would otherwise read the rest of the
# file into one cell. (The limit is process-wide in the csv module; Frictionless sets its own
# on import, so it is set again before every read.)
MAX_CELL = 1_000_000


@dataclass
class TableFile:
    """An opened table: its format, encoding, header and (lazily read) data rows."""

    format: str  # csv | xlsx
    encoding: str  # "" for xlsx
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (row number, cells as text)
    sheet: str = ""


def detect_encoding(path: Path) -> str:
    """The encoding the whole file decodes in: utf-8-sig, utf-16, utf-8 or cp932."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "cp932"]
    failures = []
    for encoding in candidates:
        failure = _decode_failure(path, encoding)
        if failure is None:
            return encoding
        failures.append(f"{encoding}: {failure}")
    raise DatastoreLoadError(
        "the file is in an unknown encoding (readable: UTF-8 with or without BOM, UTF-16 with "
        "BOM, Shift_JIS/CP932); " + "; ".join(failures),
        encodings_tried=candidates,
    )


def _decode_failure(path: Path, encoding: str) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return f"byte 0x{exc.object[exc.start]:02x} at offset {offset + exc.start}"
            if "\x00" in text:
                return "contains NUL characters (a binary file?)"
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "the file ends in the middle of a character"
    return None


def sniff_format(path: Path, declared: str = "") -> str:
    """csv or xlsx, from the file's first bytes (a zip is an XLSX), else from its name."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == ZIP_MAGIC:
        return "xlsx"
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise DatastoreLoadError(
            "this is an old binary Excel file (.xls); save it as .xlsx or CSV and load that"
        )
    declared = declared.lower().lstrip(".")
    if declared in {"xlsx", "xlsm"} or path.suffix.lower() in {".xlsx", ".xlsm"}:
        raise DatastoreLoadError("the file is named as XLSX but is not a zip archive (broken?)")
    return "csv"


@contextmanager
def open_table(
    path: Path, *, encoding: str | None = None, sheet: str | None = None, file_format: str = ""
) -> Iterator[TableFile]:
    """Open ``path`` as a table; DatastoreLoadError if it cannot be read at all."""
    if not path.is_file():
        raise DatastoreLoadError(f"no such file: {path}")
    if sniff_format(path, file_format) == "xlsx":
        with _open_xlsx(path, sheet) as table:
            yield table
        return
    enc = encoding or detect_encoding(path)
    try:
        codecs.lookup(enc)
    except LookupError:
        raise DatastoreLoadError(f"unknown encoding {enc!r}") from None
    with path.open(encoding=enc, errors="strict", newline="") as fh:
        csv.field_size_limit(MAX_CELL)
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DatastoreLoadError(f"the header row cannot be read: {exc}") from None
        if not header or not any(c.strip() for c in header):
            raise DatastoreLoadError("the file has no header row (its first row is empty)")
        yield TableFile("csv", enc, [c.strip() for c in header], _csv_rows(reader))


def _csv_rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    number = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DatastoreLoadError(f"malformed CSV after row {number}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise DatastoreLoadError(f"after row {number}: {exc}") from None
        number += 1
        yield number, row


def zip_bomb(inflated: int, size: int) -> bool:
    """Whether a zip of ``size`` bytes that inflates to ``inflated`` is treated as a bomb."""
    return inflated > MAX_INFLATION * max(size, 1) and inflated > INFLATION_FLOOR


@contextmanager
def _open_xlsx(path: Path, sheet: str | None) -> Iterator[TableFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatastoreLoadError(f"not a readable XLSX file (broken zip: {exc})") from None
    names = {i.filename.lower() for i in infos}
    if any(n.endswith("vbaproject.bin") for n in names):
        raise DatastoreLoadError("the workbook contains macros (VBA); save it as .xlsx without")
    if "xl/workbook.xml" not in names:
        raise DatastoreLoadError("the zip archive is not an XLSX workbook (no xl/workbook.xml)")
    inflated = sum(i.file_size for i in infos)
    if zip_bomb(inflated, path.stat().st_size):
        raise DatastoreLoadError(f"the workbook inflates to {inflated} bytes (a zip bomb?)")
    book = _load_workbook(path)
    try:
        ws = _worksheet(book, sheet)
        rows = _xlsx_rows(_sheet_values(ws))
        try:
            first = next(rows, None)
        except DatastoreLoadError:
            raise
        header = [c.strip() for c in first[1]] if first else []
        if not any(header):
            raise DatastoreLoadError(f"sheet {ws.title!r} has no header row (row 1 is empty)")
        yield TableFile("xlsx", "", header, rows, sheet=str(ws.title))
    finally:
        book.close()


def _load_workbook(path: Path) -> Any:
    import openpyxl

    try:
        with warnings.catch_warnings():
            # openpyxl warns about extensions it drops (data validation, conditional formats).
            warnings.simplefilter("ignore")
            return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged parts
        raise DatastoreLoadError(f"the XLSX workbook cannot be read: {exc}") from None


def _worksheet(book: Any, sheet: str | None) -> Any:
    if sheet is not None and sheet not in book.sheetnames:
        raise DatastoreLoadError(
            f"no sheet {sheet!r} in the workbook; sheets: {', '.join(book.sheetnames)}"
        )
    return book[sheet] if sheet is not None else book.worksheets[0]


def _sheet_values(ws: Any) -> Iterator[Sequence[Any]]:
    """The sheet's rows as its cells are, whatever size its ``<dimension>`` declares.

    Read-only openpyxl pads every row to the declared width and height: a 5 KB file declaring
    A1:XFD1048576 becomes rows of 16,384 cells (one declaring A1 loses every column after A).
    Without the declared size each row is as long as its last cell."""
    ws.reset_dimensions()
    values: Iterator[Sequence[Any]] = ws.iter_rows(values_only=True)
    return values


def sheet_values(path: Path, sheet: str | None, width: int) -> Iterator[list[Any]]:
    """The sheet's cell values (native types), each row padded with None to ``width`` cells.

    What Frictionless would read from a workbook whose declared size is true: it trusts the
    declared size, so it is given these rows instead of the file."""
    book = _load_workbook(path)
    try:
        for row in _sheet_values(_worksheet(book, sheet)):
            cells = list(row)
            while cells and cells[-1] is None:
                cells.pop()
            yield cells + [None] * (width - len(cells))
    finally:
        book.close()


def _xlsx_rows(values: Iterator[Sequence[Any]]) -> Iterator[tuple[int, list[str]]]:
    number = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row = next(values)
        except StopIteration:
            return
        except Exception as exc:  # a damaged sheet part surfaces while streaming
            raise DatastoreLoadError(
                f"the sheet cannot be read after row {number}: {exc}"
            ) from None
        number += 1
        cells = [cell_text(v) for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        yield number, cells


def cell_text(value: Any) -> str:
    """An XLSX cell as the text a CSV export would hold (dates ISO 8601, 3.0 as 3)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def read_all(path: Path, **kwargs: Any) -> tuple[list[str], list[list[str]]]:
    """Header and every row (for small files and tests)."""
    with open_table(path, **kwargs) as table:
        return table.header, [cells for _, cells in table.rows]


__all__ = [
    "TableFile",
    "cell_text",
    "detect_encoding",
    "open_table",
    "read_all",
    "sheet_values",
    "zip_bomb",
]
