"""The National Tax Agency's file layout: reading and writing CSV (Shift_JIS, Unicode) and XML.

Spec: 国税庁 法人番号公表サイト「法人番号システム Web-API 仕様書 Ver.4」and「データ内容の解説」
(全件データ・差分データ). A file is an optional header line
``lastUpdateDate,count,divideNumber,divideSize`` and then 30-column rows (:data:`FIELDS`);
the XML (type 12) has the same header as elements of ``<corporations>`` and one
``<corporation>`` per row. Type 01 is Shift_JIS (we decode it as cp932, its Windows superset),
type 02 "Unicode" is UTF-8.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO, NamedTuple, Protocol
from xml.etree import ElementTree as ET

from tsunagu.kernel import is_valid_corporate_number

FIELDS = (
    "sequenceNumber", "corporateNumber", "process", "correct", "updateDate", "changeDate",
    "name", "nameImageId", "kind", "prefectureName", "cityName", "streetNumber",
    "addressImageId", "prefectureCode", "cityCode", "postCode", "addressOutside",
    "addressOutsideImageId", "closeDate", "closeCause", "successorCorporateNumber",
    "changeCause", "assignmentDate", "latest", "enName", "enPrefectureName", "enCityName",
    "enAddressOutside", "furigana", "hihyoji",
)  # fmt: skip
HEADER_FIELDS = ("lastUpdateDate", "count", "divideNumber", "divideSize")
# Column (camelCase, NTA) -> attribute (snake_case, ours) for every column we store.
COLUMNS = {f: re.sub(r"(?<!^)(?=[A-Z])", "_", f).lower() for f in FIELDS[1:]}
# Text the NTA writes between double quotes in its CSV.
QUOTED = frozenset({
    "name", "prefectureName", "cityName", "streetNumber", "addressOutside", "changeCause",
    "enName", "enPrefectureName", "enCityName", "enAddressOutside", "furigana",
})  # fmt: skip
DATE_FIELDS = ("updateDate", "changeDate", "closeDate", "assignmentDate")

PROCESSES = {
    "01": "new",  # 新規
    "11": "renamed",  # 商号又は名称の変更
    "12": "moved",  # 国内所在地の変更
    "13": "moved",  # 国外所在地の変更
    "21": "closed",  # 登記記録の閉鎖等
    "22": "revived",  # 登記記録の復活等
    "71": "merged",  # 吸収合併
    "72": "merger_invalidated",  # 吸収合併無効
    "81": "struck_off",  # 商号の登記の抹消
    "99": "deleted",  # 削除
}


class TruncatedFile(ValueError):
    """The file ends early: its header promises more rows than it holds, or it breaks mid-row."""


@dataclass(frozen=True)
class Header:
    """The first line (CSV) or first elements (XML) of a published file."""

    last_update_date: date | None = None
    count: int | None = None
    divide_number: int | None = None
    divide_size: int | None = None


class Row(NamedTuple):
    """A validated row: its stored values in :data:`COLUMNS` order (see :func:`validate_cells`).

    A CSV row also keeps its 30 cells and its line as read (without the line end), from which
    the importer can hand PostgreSQL the line itself rather than the row written out again.
    A named tuple: a full (全件) file makes millions, and a frozen dataclass cost three times
    as much to make.
    """

    line: int
    record: tuple[Any, ...]
    cells: Sequence[str] = ()
    text: str = ""

    @property
    def values(self) -> dict[str, Any]:
        """The stored values by attribute name (snake_case)."""
        return dict(zip(_KEYS, self.record, strict=True))


@dataclass(frozen=True)
class BadRow:
    """A row we cannot accept, with its line (CSV) or element position (XML) and the reason."""

    line: int
    reason: str
    raw: str


@dataclass
class Parsed:
    """Everything read from one file."""

    file_format: str
    header: Header = field(default_factory=Header)
    rows: list[Row | BadRow] = field(default_factory=list)

    def __iter__(self) -> Iterator[Row | BadRow]:
        return iter(self.rows)


def parse_date(text: str, *, required: bool) -> date | None:
    """An NTA date (YYYY-MM-DD); empty is None unless required. 0000-00-00 is an error."""
    if not text:
        if required:
            raise ValueError("is empty")
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad_date(text)
    except ValueError:
        return _bad_date(text)


def _bad_date(text: str) -> date:
    raise ValueError(f"is not a date: {text!r}")


def date_text(text: str, *, required: bool) -> str | None:
    """An NTA date exactly as written (YYYY-MM-DD, checked); empty is None unless required."""
    if not text:
        if required:
            raise ValueError("is empty")
        return None
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return _bad_date(text).isoformat()
    try:
        date.fromisoformat(text)
    except ValueError:
        _bad_date(text)
    return text


def validate(values: Mapping[str, str]) -> dict[str, Any]:
    """Check one row's columns (camelCase) and return stored values (snake_case); ValueError.

    Dates are ISO text (``YYYY-MM-DD``, as stored), flags are booleans.
    """
    return dict(zip(_KEYS, validate_cells([values[f] for f in FIELDS]), strict=True))


# Stored attribute of each cell after the sequence number, and the cells that are not text.
_KEYS = tuple(COLUMNS[f] for f in FIELDS[1:])
_DATES = tuple((FIELDS.index(f), f in DATE_FIELDS[:2]) for f in DATE_FIELDS)
_FLAGS = ("0", "1")
# Dates already checked: a file's millions of rows carry a few thousand distinct dates (days).
_SEEN_DATES: set[str] = set()
# Positions in a record (the cells after the sequence number).
CORRECT, LATEST, HIHYOJI = (FIELDS.index(f) - 1 for f in ("correct", "latest", "hihyoji"))


def validate_cells(cells: Sequence[str]) -> tuple[Any, ...]:
    """Check the 30 cells of a row (:data:`FIELDS` order); return the record to store: the
    cells after the sequence number with flags as booleans and empty dates as None.

    Works on positions rather than a dict per row: a full (全件) file has millions of rows and
    this runs once for each. Dates stay the text they are (checked as dates): stored as it is
    on SQLite and sent as text to PostgreSQL.
    """
    number = cells[1]
    if not is_valid_corporate_number(number):
        raise ValueError(f"corporateNumber {number!r} fails the check digit")
    if cells[2] not in PROCESSES:
        raise ValueError(f"process {cells[2]!r} is not a known 処理区分")
    if cells[3] not in _FLAGS:
        raise ValueError(f"correct {cells[3]!r} is not 0 or 1")
    if cells[23] not in _FLAGS:
        raise ValueError(f"latest {cells[23]!r} is not 0 or 1")
    if cells[29] not in ("0", "1", ""):
        raise ValueError(f"hihyoji {cells[29]!r} is not 0 or 1")
    if not cells[6]:
        raise ValueError("name is empty")
    successor = cells[20]
    if successor and not is_valid_corporate_number(successor):
        raise ValueError(f"successorCorporateNumber {successor!r} fails the check digit")
    record: list[Any] = list(cells[1:])
    for index, required in _DATES:
        text = cells[index]
        if text in _SEEN_DATES:
            continue
        try:
            record[index - 1] = date_text(text, required=required)
        except ValueError as exc:
            raise ValueError(f"{FIELDS[index]} {exc}") from None
        if text and len(_SEEN_DATES) < 100_000:
            _SEEN_DATES.add(text)
    record[CORRECT] = cells[3] == "1"
    record[LATEST] = cells[23] == "1"
    record[HIHYOJI] = cells[29] == "1"
    return tuple(record)


# --- Reading -------------------------------------------------------------------------------

# Bytes read at a time: a full (全件) file is over a gigabyte, and memory must not grow with it.
BLOCK = 1 << 20
_BOM = b"\xef\xbb\xbf"


class NotNtaFile(ValueError):
    """The file is not in an NTA layout (another XML root, a broken header line)."""


class Reader(Protocol):
    """Rows of one file in file order; ``header`` is final once iteration has ended."""

    file_format: str
    header: Header

    def __iter__(self) -> Iterator[Row | BadRow]: ...


def _blocks(stream: BinaryIO) -> Iterator[bytes]:
    while block := stream.read(BLOCK):
        yield block


def choose_encoding(stream: BinaryIO) -> str:
    """UTF-8 if most non-ASCII lines decode as UTF-8, else Shift_JIS (cp932).

    Reads a seekable stream and leaves it where it was. A file that decodes entirely as UTF-8
    is UTF-8 by that rule too, so lines are counted only when some bytes are not UTF-8.
    """
    start = stream.tell()
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for block in _blocks(stream):
            decoder.decode(block)
        decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    finally:
        stream.seek(start)
    utf8 = other = 0
    for raw in stream:
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            other += 1
    stream.seek(start)
    return "utf-8" if utf8 >= other else "cp932"


class CsvReader:
    """An NTA CSV file (either encoding, with or without the header line) read as a stream.

    Lines go through one csv reader per block of about a megabyte (a reader per line cost more
    than the rest of parsing); a block in which a record would span lines (an unbalanced quote),
    a line the csv module refuses or a line not in the encoding is read again line by line, so
    both ways report the same. A last line without its line end and with fewer than 30 columns
    raises :class:`TruncatedFile`, as does a header whose count the rows do not reach — both
    only once the rows before them have been yielded: the caller undoes what it stored.
    """

    def __init__(self, stream: BinaryIO, encoding: str) -> None:
        self.file_format = "csv-unicode" if encoding == "utf-8" else "csv-sjis"
        self.header = Header()
        self._stream = stream
        self._encoding = encoding
        self._count = 0

    @property
    def encoding(self) -> str:
        return self._encoding

    def __iter__(self) -> Iterator[Row | BadRow]:
        for before, data, complete in self.chunks():
            yield from self._lines(before, data.split(b"\n"), complete=complete)
        self.check_count()

    def chunks(self) -> Iterator[tuple[int, bytes, bool]]:
        """The file as ``(lines before, whole lines, complete)``, about a block at a time.

        Each chunk can be parsed on its own (:func:`parse_chunk`, in another process too):
        it ends at a line end, except the file's last (``complete`` False) if that has none.
        """
        number = 0
        pending = b""
        for index, block in enumerate(_blocks(self._stream)):
            data = pending + (block.removeprefix(_BOM) if index == 0 else block)
            cut = data.rfind(b"\n")
            if cut < 0:
                pending = data
                continue
            pending = data[cut + 1 :]
            yield number, data[:cut], True
            number += data.count(b"\n", 0, cut) + 1
        if pending:
            yield number, pending, False

    def parsed(self, header: Header | None, rows: int) -> None:
        """Take note of a chunk parsed elsewhere (:func:`parse_chunk`'s header and row count)."""
        if header is not None:
            self.header = header
        self._count += rows

    def check_count(self) -> None:
        """Raise :class:`TruncatedFile` if the header's count is not the rows read."""
        _check_count(self.header, self._count)

    def _lines(self, before: int, lines: list[bytes], *, complete: bool) -> list[Row | BadRow]:
        """The rows of consecutive lines; line ``before + 1`` is the first of them."""
        out = self._fast(before, lines, complete=complete)
        if out is None:
            out = []
            for offset, raw in enumerate(lines, start=1):
                item = self._line_alone(before + offset, raw, last=offset == len(lines),
                                        complete=complete)  # fmt: skip
                if item is not None:
                    out.append(item)
        self._count += len(out)
        return out

    def _fast(
        self, before: int, lines: list[bytes], *, complete: bool
    ) -> list[Row | BadRow] | None:
        try:
            text = b"\n".join(lines).decode(self._encoding)
        except UnicodeDecodeError:
            return None
        # Neither encoding has a byte 0x0A inside a character: the same lines as the bytes'.
        texts = [t.removesuffix("\r") for t in text.split("\n")]
        reader = csv.reader(texts)
        out: list[Row | BadRow] = []
        count = len(texts)
        width = len(FIELDS)
        try:
            for offset, cells in enumerate(reader, start=1):
                if reader.line_num != offset:
                    return None
                if len(cells) != width:  # the header, a short last line, a bad row
                    item = self._item(before + offset, cells, texts[offset - 1],
                                      last=offset == count, complete=complete)  # fmt: skip
                    if item is not None:
                        out.append(item)
                    continue
                try:  # _row, inline: this runs for every row of the file
                    out.append(
                        Row(before + offset, validate_cells(cells), cells, texts[offset - 1])
                    )
                except ValueError as exc:
                    out.append(BadRow(before + offset, str(exc), texts[offset - 1]))
        except csv.Error:
            return None
        if reader.line_num != count:
            return None  # pragma: no cover - a reader consumes every line it yields from
        return out

    def _line_alone(
        self, number: int, raw: bytes, *, last: bool, complete: bool
    ) -> Row | BadRow | None:
        raw = raw.removesuffix(b"\r")
        try:
            line = raw.decode(self._encoding)
        except UnicodeDecodeError as exc:
            return BadRow(number, f"not {self._encoding}: {exc.reason} at byte {exc.start}",
                          raw.decode(self._encoding, errors="replace"))  # fmt: skip
        try:
            cells = next(csv.reader([line]), [])
        except csv.Error as exc:  # a carriage return inside the line: a bad row, not a crash
            return BadRow(number, f"not CSV: {exc}", line)
        return self._item(number, cells, line, last=last, complete=complete)

    def _item(
        self, number: int, cells: list[str], text: str, *, last: bool, complete: bool
    ) -> Row | BadRow | None:
        if number == 1 and len(cells) == len(HEADER_FIELDS):
            self.header = _header(cells)
            return None
        if last and not complete and len(cells) < len(FIELDS):
            raise TruncatedFile(f"line {number} ends after {len(cells)} of 30 columns")
        return _row(number, cells, text)


def parse_chunk(
    encoding: str, before: int, data: bytes, *, complete: bool
) -> tuple[Header | None, list[Row | BadRow]]:
    """The rows of one of :meth:`CsvReader.chunks`, and the header if the chunk holds it."""
    reader = CsvReader(io.BytesIO(), encoding)
    rows = reader._lines(before, data.split(b"\n"), complete=complete)
    return (reader.header if before == 0 else None), rows


def _header(cells: list[str]) -> Header:
    try:
        return Header(
            last_update_date=parse_date(cells[0], required=False),
            count=int(cells[1]),
            divide_number=int(cells[2]),
            divide_size=int(cells[3]),
        )
    except ValueError as exc:
        raise NotNtaFile(f"line 1 is not a valid header ({exc})") from None


def _row(line: int, cells: Sequence[str], raw: str) -> Row | BadRow:
    if len(cells) != len(FIELDS):
        return BadRow(line, f"{len(cells)} columns, expected {len(FIELDS)}", raw)
    try:
        return Row(line, validate_cells(cells), cells, raw)
    except ValueError as exc:
        return BadRow(line, str(exc), raw)


def _check_count(header: Header, rows: int) -> None:
    # The count is of the whole result; only a single-part file must hold all of it.
    if header.count is not None and header.divide_size == 1 and header.count != rows:
        raise TruncatedFile(f"the header promises {header.count} rows but the file holds {rows}")


class XmlReader:
    """An NTA XML file (type 12) read as a stream; a row's 'line' is its position among the
    ``<corporation>`` elements. Each one is dropped from the tree once read."""

    file_format = "xml"

    def __init__(self, stream: BinaryIO) -> None:
        self.header = Header()
        self._stream = stream

    def __iter__(self) -> Iterator[Row | BadRow]:
        head: dict[str, str] = {}
        root: ET.Element | None = None
        depth = position = 0
        try:
            # The XML comes from the NTA or our own export; ElementTree does not expand external
            # entities.
            for event, element in ET.iterparse(self._stream, events=("start", "end")):  # noqa: S314
                if event == "start":
                    if root is None:
                        root = element
                        if element.tag != "corporations":
                            raise NotNtaFile(f"expected <corporations>, found <{element.tag}>")
                    depth += 1
                    continue
                depth -= 1
                if depth == 1 and element.tag in HEADER_FIELDS:
                    head.setdefault(element.tag, (element.text or "").strip())
                if element.tag != "corporation":
                    continue
                position += 1
                yield self._corporation(position, element)
                if depth == 1 and root is not None:
                    root.clear()  # the rows read so far (and the header, already kept)
        except ET.ParseError as exc:
            raise TruncatedFile(f"the XML is not complete or not well-formed: {exc}") from None
        if head.get("count"):
            self.header = _header([head.get(name, "") for name in HEADER_FIELDS])
        _check_count(self.header, position)

    @staticmethod
    def _corporation(position: int, element: ET.Element) -> Row | BadRow:
        cells = [(element.findtext(name) or "").strip() for name in FIELDS]
        unknown = [child.tag for child in element if child.tag not in _FIELD_SET]
        if unknown:
            return BadRow(position, f"unknown elements {unknown}", _raw(element))
        try:  # _row: 30 cells, one per field
            return Row(position, validate_cells(cells))
        except ValueError as exc:
            # Serialized for bad rows only: ET.tostring took half of the time of reading a row.
            return BadRow(position, str(exc), _raw(element))


_FIELD_SET = frozenset(FIELDS)


def _raw(element: ET.Element) -> str:
    """A ``<corporation>`` element as the XML text stored with a rejected row."""
    tail, element.tail = element.tail, None  # the text after it may not be read yet
    try:
        return ET.tostring(element, encoding="unicode")
    finally:
        element.tail = tail


def is_xml(head: bytes) -> bool:
    """Whether a file that begins with ``head`` is XML rather than CSV (by its first byte)."""
    return head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<")


def open_file(stream: BinaryIO, encoding: str | None = None) -> Reader:
    """A reader for CSV or XML by content; ``stream`` must be seekable (the encoding is chosen
    by reading the whole file first unless given)."""
    start = stream.tell()
    head = stream.read(4096)
    stream.seek(start)
    if is_xml(head):
        return XmlReader(stream)
    return CsvReader(stream, encoding or choose_encoding(stream))


def _parsed(reader: Reader) -> Parsed:
    rows = list(reader)
    return Parsed(reader.file_format, reader.header, rows)


def parse_file(data: bytes, encoding: str | None = None) -> Parsed:
    """Read CSV or XML bytes by content, all rows at once (small files; see :func:`open_file`)."""
    return _parsed(open_file(io.BytesIO(data), encoding))


def parse_csv(data: bytes, encoding: str | None = None) -> Parsed:
    """Read NTA CSV bytes, all rows at once (see :class:`CsvReader`)."""
    stream = io.BytesIO(data)
    return _parsed(CsvReader(stream, encoding or choose_encoding(stream)))


def parse_xml(data: bytes) -> Parsed:
    """Read NTA XML bytes, all rows at once (see :class:`XmlReader`)."""
    return _parsed(XmlReader(io.BytesIO(data)))


# --- Writing -------------------------------------------------------------------------------


def _cell(record: Mapping[str, Any], name: str) -> str:
    value = record.get(COLUMNS[name])
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


def write_csv(records: Iterable[Mapping[str, Any]], header: Header) -> str:
    """NTA CSV (type 02 layout, CRLF line ends) with the header line."""
    out = io.StringIO()
    head = [header.last_update_date.isoformat() if header.last_update_date else "",
            header.count, header.divide_number, header.divide_size]  # fmt: skip
    out.write(",".join("" if v is None else str(v) for v in head) + "\r\n")
    for sequence, record in enumerate(records, start=1):
        cells = [str(sequence)]
        for name in FIELDS[1:]:
            value = _cell(record, name)
            cells.append(
                '"' + value.replace('"', '""') + '"' if value and name in QUOTED else value
            )
        out.write(",".join(cells) + "\r\n")
    return out.getvalue()


def write_xml(records: Iterable[Mapping[str, Any]], header: Header) -> str:
    """NTA XML (type 12 layout)."""
    root = ET.Element("corporations")
    head = {"lastUpdateDate": header.last_update_date.isoformat() if header.last_update_date
            else "", "count": header.count, "divideNumber": header.divide_number,
            "divideSize": header.divide_size}  # fmt: skip
    for name, value in head.items():
        ET.SubElement(root, name).text = "" if value is None else str(value)
    for sequence, record in enumerate(records, start=1):
        element = ET.SubElement(root, "corporation")
        ET.SubElement(element, "sequenceNumber").text = str(sequence)
        for name in FIELDS[1:]:
            ET.SubElement(element, name).text = _cell(record, name) or None
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def iter_rows(parsed: Parsed) -> Iterator[Row]:
    """The accepted rows only."""
    return (row for row in parsed.rows if isinstance(row, Row))
