"""Reading CSV and XLSX distributions as streams of rows, in bounded memory.

CSV: the encoding is detected from a sample (BOM, strict UTF-8, then Shift_JIS/CP932 against
EUC-JP with charset-normalizer deciding between them) and the file is decoded as a stream.
XLSX: openpyxl in read-only mode streams the cell values; merged cells, formulas and drawings
(which read-only mode does not expose) are read from the sheet's XML with ``iterparse``.
Workbooks with macros are refused unopened; zips that would expand past the size limit too.
"""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from xml.etree import ElementTree as ET

import charset_normalizer

from ..datastore.reader import INFLATION_FLOOR, MAX_INFLATION, zip_bomb
from .errors import FileTooLarge, MacroWorkbook, UnknownEncoding, UnreadableFile

SAMPLE_BYTES = 256 << 10  # encoding detection reads this much (memory stays flat past it)
ZIP_EXPANSION = 20  # a zip may expand to this many times the size limit, not more (zip bombs)
# Japanese and Unicode encodings a municipal CSV comes in; anything else is reported unknown.
ACCEPTED_GUESSES = {
    "utf_8": "utf-8", "utf_16": "utf-16", "cp932": "cp932", "shift_jis": "cp932",
    "shift_jis_2004": "cp932", "shift_jisx0213": "cp932", "euc_jp": "euc_jp",
    "euc_jis_2004": "euc_jp", "iso2022_jp": "iso2022_jp",
}  # fmt: skip
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
XDR_ANCHORS = ("twoCellAnchor", "oneCellAnchor", "absoluteAnchor")
KEEP_REFS = 200  # merged ranges / formula cells remembered per sheet (the count is exact)


@dataclass
class Sheet:
    """One sheet (a CSV file is one sheet named ""): its rows, streamed, and its extras."""

    name: str
    rows: Iterator[Sequence[Any]]
    merges: list[str] = field(default_factory=list)
    merge_count: int = 0
    formulas: list[str] = field(default_factory=list)
    formula_count: int = 0
    objects: int = 0


@dataclass
class Table:
    format: str  # CSV | XLSX
    encoding: str  # CSV only
    sheets: Iterator[Sheet]


def _decodes(sample: bytes, encoding: str, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=final)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(sample: bytes, *, complete: bool = True) -> str:
    """The encoding of a CSV, from its first bytes (``complete``: the sample is the file)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        raise UnreadableFile("the file holds NUL bytes: binary data, not a CSV text file")
    if _decodes(sample, "utf-8", complete):
        return "utf-8"
    sjis, euc = _decodes(sample, "cp932", complete), _decodes(sample, "euc_jp", complete)
    if sjis != euc:
        return "cp932" if sjis else "euc_jp"
    best = charset_normalizer.from_bytes(sample).best()
    guess = ACCEPTED_GUESSES.get(best.encoding) if best is not None else None
    if sjis and euc:
        return "euc_jp" if guess == "euc_jp" else "cp932"
    if guess is None or not _decodes(sample, guess, complete):
        raise UnknownEncoding(
            "the file is not UTF-8, Shift_JIS/CP932, EUC-JP or ISO-2022-JP"
            + (f" (it looks like {best.encoding})" if best is not None else "")
            + ": save it as UTF-8"
        )
    return guess


def sniff(head: bytes, name: str) -> str:
    """XLSX, XLS or CSV, from the first bytes (names lie more often than magic numbers)."""
    if head.startswith(ZIP_MAGIC):
        return "XLSX"
    if head.startswith(OLE_MAGIC):
        return "XLS"
    lower = name.lower()
    if lower.endswith((".xlsx", ".xlsm", ".xls")):
        raise UnreadableFile(f"{name}: not a valid Excel workbook (no zip or OLE header)")
    return "CSV"


def open_table(file: IO[bytes], name: str = "", *, max_bytes: int) -> Table:
    """Open a seekable binary file as a table; raises a quality Problem if it cannot be."""
    file.seek(0, io.SEEK_END)
    size = file.tell()
    file.seek(0)
    if size > max_bytes:
        raise FileTooLarge(f"the file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    if size == 0:
        raise UnreadableFile("the file is empty")
    head = file.read(8)
    file.seek(0)
    kind = sniff(head, name)
    if kind == "XLS":
        raise UnreadableFile(
            "a legacy Excel 97-2003 (.xls) workbook: save it as .xlsx or CSV to have it checked"
        )
    if kind == "XLSX":
        return Table("XLSX", "", _xlsx_sheets(file, max_bytes, size))
    sample = file.read(SAMPLE_BYTES)
    file.seek(0)
    encoding = detect_encoding(sample, complete=size <= SAMPLE_BYTES)
    return Table("CSV", encoding, iter([Sheet("", _csv_rows(file, encoding))]))


def _csv_rows(file: IO[bytes], encoding: str) -> Iterator[list[str]]:
    text = io.TextIOWrapper(file, encoding=encoding, newline="", errors="strict")
    reader = csv.reader(text)
    try:
        yield from reader
    except UnicodeDecodeError as exc:
        raise UnknownEncoding(
            f"line {reader.line_num + 1} is not valid {encoding} ({exc.reason}): "
            "the file mixes encodings; save it as UTF-8"
        ) from exc
    except csv.Error as exc:
        raise UnreadableFile(f"line {reader.line_num}: not valid CSV ({exc})") from exc
    finally:
        text.detach()


# ---- XLSX ----------------------------------------------------------------------------------


def _open_zip(file: IO[bytes], max_bytes: int, size: int) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(f"not a valid XLSX workbook: the zip is broken ({exc})") from exc
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise UnreadableFile("a zip file, but not an XLSX workbook (no xl/workbook.xml)")
    if "xl/workbook.bin" in names:
        raise UnreadableFile("a binary .xlsb workbook: save it as .xlsx or CSV")
    content_types = archive.read("[Content_Types].xml") if "[Content_Types].xml" in names else b""
    if any(n.lower().endswith("vbaproject.bin") for n in names) or b"macroEnabled" in content_types:
        raise MacroWorkbook(
            "the workbook contains VBA macros; it is not opened. Publish a macro-free .xlsx or CSV"
        )
    expanded = sum(info.file_size for info in archive.infolist())
    if expanded > max_bytes * ZIP_EXPANSION:
        raise FileTooLarge(
            f"the workbook expands to {expanded:,} bytes, over {ZIP_EXPANSION}× the size limit"
        )
    # The datastore's rule too, so both refuse the same workbooks (a 432 KB sheet of 3M rows,
    # 147 MB of XML, took 42 s to check).
    if zip_bomb(expanded, size):
        raise FileTooLarge(
            f"the workbook expands to {expanded:,} bytes, over {MAX_INFLATION}× its own "
            f"{size:,} bytes and over {INFLATION_FLOOR:,} bytes (a zip bomb?)"
        )
    return archive


def _rels(archive: zipfile.ZipFile, part: str) -> list[tuple[str, str]]:
    """(type, target path) of a part's relationships."""
    folder, base = posixpath.split(part)
    rels_path = posixpath.join(folder, "_rels", base + ".rels")
    try:
        root = ET.fromstring(archive.read(rels_path))  # noqa: S314 -- package part, no DTDs
    except KeyError:
        return []
    out = []
    for rel in root.iter(REL_NS + "Relationship"):
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(folder, target)
        )  # fmt: skip
        out.append((rel.get("Type", "").rsplit("/", 1)[-1], path))
    return out


def _scan_sheet_xml(archive: zipfile.ZipFile, part: str, sheet: Sheet) -> None:
    """Merged ranges and formula cells of a sheet part, streamed.

    A finished row or merged range is dropped from its parent (``sheetData``, ``mergeCells``):
    clearing the element alone would leave one empty element per row in the tree."""
    cell = ""
    parent: ET.Element | None = None
    with archive.open(part) as stream:
        for event, elem in ET.iterparse(stream, events=("start", "end")):  # noqa: S314
            tag = elem.tag
            if event == "start":
                if tag == MAIN_NS + "c":
                    cell = elem.get("r", "")
                elif tag in (MAIN_NS + "sheetData", MAIN_NS + "mergeCells"):
                    parent = elem
                continue
            if tag == MAIN_NS + "f":
                sheet.formula_count += 1
                if len(sheet.formulas) < KEEP_REFS:
                    sheet.formulas.append(cell)
            elif tag == MAIN_NS + "mergeCell":
                sheet.merge_count += 1
                if len(sheet.merges) < KEEP_REFS:
                    sheet.merges.append(elem.get("ref", ""))
                if parent is not None:
                    parent.clear()
            elif tag == MAIN_NS + "row" and parent is not None:
                parent.clear()
            elif tag in (MAIN_NS + "c", MAIN_NS + "row"):
                elem.clear()


def _count_objects(archive: zipfile.ZipFile, part: str) -> int:
    count = 0
    for kind, target in _rels(archive, part):
        if kind == "drawing":
            try:
                root = ET.fromstring(archive.read(target))  # noqa: S314
            except (KeyError, ET.ParseError):
                count += 1
                continue
            count += sum(1 for el in root if el.tag.rsplit("}", 1)[-1] in XDR_ANCHORS)
        elif kind in ("oleObject", "image", "chart", "package", "control"):
            count += 1
    return count


def _xlsx_sheets(file: IO[bytes], max_bytes: int, size: int) -> Iterator[Sheet]:
    import openpyxl

    archive = _open_zip(file, max_bytes, size)
    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds (KeyError, ValueError, zip errors)
        raise UnreadableFile(
            f"the workbook cannot be opened ({type(exc).__name__}: {exc})"
        ) from exc
    try:
        for ws in workbook.worksheets:
            part = str(getattr(ws, "_worksheet_path", "")).lstrip("/")
            sheet = Sheet(ws.title, _xlsx_rows(ws))
            try:
                if part:
                    _scan_sheet_xml(archive, part, sheet)
                    sheet.objects = _count_objects(archive, part)
            except (KeyError, ET.ParseError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise UnreadableFile(f"sheet {ws.title!r} is damaged ({exc})") from exc
            yield sheet
    finally:
        workbook.close()
        archive.close()


def _xlsx_rows(ws: Any) -> Iterator[tuple[Any, ...]]:
    # Read-only openpyxl pads every row to the sheet's declared <dimension>, which a 5 KB file
    # can declare as 16,384 columns: without it each row is as long as its last cell.
    ws.reset_dimensions()
    try:
        yield from ws.iter_rows(values_only=True)
    except (zipfile.BadZipFile, zlib.error, EOFError, ET.ParseError, KeyError) as exc:
        raise UnreadableFile(f"sheet {ws.title!r} is damaged ({exc})") from exc
