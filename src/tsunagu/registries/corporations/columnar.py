"""NTA CSV rows as PostgreSQL binary ``COPY`` rows, a column at a time (Apache Arrow).

A first load of a 全件 file on PostgreSQL spent most of its time in Python, a row at a time:
the csv module, validation, keys and a row hash (about 12 µs a row in each worker), and the
server then parsed our CSV text again — together 6.7× the raw ``COPY`` of the same file
(docs/benchmarks.md). Here a worker hands Arrow's CSV reader a whole chunk, checks every cell
with Arrow's compute functions (C++, a column at a time), computes in Python only what must be
exactly our own functions (name keys Arrow cannot make exactly, each distinct date and
prefecture/city pair once), and encodes the rows in PostgreSQL's binary ``COPY`` format with
pgpq — typed values the server stores without parsing text.

This is a fast path, not a second definition of a valid row. It is taken only for a chunk it
can prove would read the same through :mod:`nta`'s reader: every line exactly 30 cells, no
double quote inside a cell or outside a field's own quoting, no carriage return but line ends,
no NUL, valid text in the file's encoding, and every row passing checks at least as strict as
:func:`nta.validate_cells` (dates by :func:`nta.date_text` itself). Any other chunk — a bad
row, the header line, the file's unterminated last line — goes through :mod:`nta` as before and
its records are encoded by :func:`encode_records`, so rejected rows keep their exact reasons.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any

import numpy as np
import pgpq
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from sqlalchemy import Boolean, Date, Integer, String

from . import nta
from .importer import RECORD_COLUMNS, RECORDS
from .normalize import LEGAL_FORMS, furigana_key, lg_code, name_key

# Every stored column but the generated id, in table order: a record's layout.
_COLUMNS = [RECORDS.c[name] for name in RECORD_COLUMNS]


def _arrow_type(column: Any) -> pa.DataType:
    kind = column.type
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, Date):
        return pa.date32()
    if isinstance(kind, Integer):
        return pa.int32()
    if isinstance(kind, String):
        return pa.string()
    raise TypeError(f"no Arrow type for {column.name}")  # pragma: no cover - layout check


SCHEMA = pa.schema([pa.field(c.name, _arrow_type(c)) for c in _COLUMNS])


@cache
def frame() -> tuple[bytes, bytes]:
    """The binary ``COPY`` stream's header and trailer (the same for every stream)."""
    encoder = pgpq.ArrowToPostgresBinaryEncoder(SCHEMA)
    return bytes(encoder.write_header()), bytes(encoder.finish())


def copy_statement(table: str) -> str:
    """The ``COPY`` statement that reads :func:`frame`d rows into ``table``."""
    return f"COPY {table} ({', '.join(RECORD_COLUMNS)}) FROM STDIN (FORMAT binary)"


def _encode(batch: pa.RecordBatch) -> bytes:
    """The batch's rows, without the stream's header and trailer (:func:`frame` gives them).

    pgpq buffers rows until ``finish``, which returns the rest and the trailer; one encoder a
    batch, so that worker processes can encode chunks independently.
    """
    encoder = pgpq.ArrowToPostgresBinaryEncoder(SCHEMA)
    encoder.write_header()
    rows = bytes(encoder.write_batch(batch)) + bytes(encoder.finish())
    trailer = frame()[1]
    if not rows.endswith(trailer):  # pragma: no cover - pgpq's stream format
        raise RuntimeError("pgpq's binary COPY stream did not end with its trailer")
    return rows[: -len(trailer)]


# --- Records already validated by nta (the fallback) ---------------------------------------


def encode_records(records: Sequence[tuple[Any, ...]]) -> bytes:
    """Record tuples (importer.RECORD_COLUMNS order; dates as ISO text, checked) as binary
    rows."""
    if not records:
        return b""
    arrays = []
    for values, field in zip(zip(*records, strict=True), SCHEMA, strict=True):
        if field.type == pa.date32():
            text = pa.array(values, pa.string())
            arrays.append(pc.cast(pc.strptime(text, format="%Y-%m-%d", unit="s"), pa.date32()))
        else:
            arrays.append(pa.array(values, field.type))
    return _encode(pa.RecordBatch.from_arrays(arrays, schema=SCHEMA))


# --- A chunk read column by column -----------------------------------------------------------

_READ = pcsv.ReadOptions(column_names=list(nta.FIELDS), use_threads=False, block_size=1 << 26)
_PARSE = pcsv.ParseOptions(newlines_in_values=False)
_CONVERT = pcsv.ConvertOptions(
    column_types={f: pa.string() for f in nta.FIELDS},
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
)
_QUOTE, _COMMA, _NEWLINE, _ZERO = b'"'[0], b","[0], b"\n"[0], b"0"[0]
_PROCESSES = pa.array(sorted(nta.PROCESSES))
_FLAGS = pa.array(["0", "1"])
_HIHYOJI = pa.array(["0", "1", ""])
_DATE_FIELDS = frozenset(nta.DATE_FIELDS)
_REQUIRED_DATES = frozenset(nta.DATE_FIELDS[:2])
_FLAG_FIELDS = frozenset(nta.FIELDS[i + 1] for i in (nta.CORRECT, nta.LATEST, nta.HIHYOJI))


def _odd_quote(data: bytes) -> bool:
    """Whether a double quote in ``data`` neither opens a field (after a comma or line start)
    nor closes one (before a comma or line end): an embedded or doubled quote, where Python's
    csv module and Arrow's reader could part ways. A chunk with one goes through nta.

    (NumPy over the bytes: the same test as RE2's ``[^,\n]"[^,\n]``, which took 0.31 µs a
    row, and Python's re ten times that; docs/benchmarks.md.)
    """
    octets = np.frombuffer(data, np.uint8)
    quotes = np.flatnonzero(octets[1:-1] == _QUOTE) + 1  # each with a byte on both sides
    before, after = octets[quotes - 1], octets[quotes + 1]
    inner = (before != _COMMA) & (before != _NEWLINE) & (after != _COMMA) & (after != _NEWLINE)
    return bool(inner.any())


def _offsets(column: pa.Array) -> np.ndarray:
    """Where each cell of a string column starts in its bytes, and where the last one ends."""
    return np.frombuffer(column.buffers()[1], np.int32)[column.offset :][: len(column) + 1]


def _octets(column: pa.Array) -> np.ndarray:
    """The bytes of a string column's cells, one after another (no copy)."""
    offsets = _offsets(column)
    values = column.buffers()[2]
    if values is None or offsets[-1] == offsets[0]:
        return np.zeros(0, np.uint8)
    return np.frombuffer(values, np.uint8)[offsets[0] : offsets[-1]]


def _quote_in(column: pa.Array) -> bool:
    """Whether any cell of the column holds a double quote."""
    return bool((_octets(column) == _QUOTE).any())


def _all(mask: pa.Array) -> bool:
    # Arrow's all() skips nulls; a null here (none expected) counts as a failed check.
    return bool(pc.all(pc.fill_null(mask, False)).as_py())


def _check_digits_valid(numbers: pa.Array) -> bool:
    """Every value 13 ASCII digits whose first is the check digit (kernel.ids): computed over
    the column's bytes as a matrix of 13 digits a row (NumPy), not digit by digit in Python."""
    if not (np.diff(_offsets(numbers)) == 13).all():
        return False
    digits = _octets(numbers).reshape(-1, 13).astype(np.int32) - _ZERO
    if ((digits < 0) | (digits > 9)).any():
        return False
    total = 2 * digits[:, 1::2].sum(axis=1) + digits[:, 2::2].sum(axis=1)
    return bool((digits[:, 0] == 9 - total % 9).all())


def _dates(cells: pa.Array, *, required: bool) -> pa.Array | None:
    """The cells as dates, checked by :func:`nta.date_text` itself — once for each distinct
    value (a file's millions of rows hold a few thousand days); None if one fails."""
    distinct = pc.unique(cells)
    try:
        days = [nta.date_text(text, required=required) for text in distinct.to_pylist()]
    except ValueError:
        return None
    values = pa.array([date.fromisoformat(d) if d else None for d in days], pa.date32())
    return pc.take(values, pc.index_in(cells, value_set=distinct))


def encode_chunk(
    data: bytes, before: int, import_id: int, source: str, *, current: bool, encoding: str
) -> tuple[bytes, list[str]] | None:
    """Whole lines of a CSV file (no header, each a row) as binary ``COPY`` rows and their
    corporate numbers; None if the chunk is not certain to read as :mod:`nta` reads it."""
    if encoding != "utf-8":  # Arrow reads UTF-8 (whose validity it checks itself)
        try:
            data = data.decode(encoding).encode()
        except UnicodeDecodeError:
            return None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            return None
    if b"\x00" in data or _odd_quote(data):
        return None
    lines = data.count(b"\n") + 1
    try:
        table = pcsv.read_csv(pa.py_buffer(data), read_options=_READ, parse_options=_PARSE,
                              convert_options=_CONVERT)  # fmt: skip
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a line of other than 30 cells, bad UTF-8
        return None
    if table.num_rows != lines:  # an empty line (Arrow skips it; nta rejects it)
        return None
    cells = {f: table.column(f).combine_chunks() for f in nta.FIELDS}
    if any(_quote_in(column) for column in cells.values()):
        return None
    published = _published(cells)
    if published is None:
        return None
    rows = table.num_rows
    readings = cells["furigana"]
    if _all(pc.equal(readings, "")):
        reading_keys = readings
    else:
        reading_keys = pa.array([furigana_key(r) for r in readings.to_pylist()], pa.string())
    numbers = cells["corporateNumber"].to_pylist()
    ours = [
        pa.array([source] * rows, pa.string()),
        pa.array([current] * rows, pa.bool_()),
        name_keys(cells["name"]),
        reading_keys,
        _lg_codes(cells["prefectureCode"], cells["cityCode"]),
        pa.nulls(rows, pa.string()),
        pa.array([import_id] * rows, pa.int32()),
        pa.array(range(before + 1, before + rows + 1), pa.int32()),
    ]
    batch = pa.RecordBatch.from_arrays([*published, *ours], schema=SCHEMA)
    return _encode(batch), numbers


def _published(cells: dict[str, pa.Array]) -> list[pa.Array] | None:
    """The 29 stored published columns, typed; None unless every row passes the checks."""
    if not _check_digits_valid(cells["corporateNumber"]):
        return None
    successor = cells["successorCorporateNumber"]
    named = pc.filter(successor, pc.not_equal(successor, ""))
    if len(named) and not _check_digits_valid(named):
        return None
    checks = [
        pc.is_in(cells["process"], value_set=_PROCESSES),
        pc.is_in(cells["correct"], value_set=_FLAGS),
        pc.is_in(cells["latest"], value_set=_FLAGS),
        pc.is_in(cells["hihyoji"], value_set=_HIHYOJI),
        pc.not_equal(cells["name"], ""),
    ]
    if not all(_all(check) for check in checks):
        return None
    out = []
    for f in nta.FIELDS[1:]:
        column = cells[f]
        if f in _DATE_FIELDS:
            dates = _dates(column, required=f in _REQUIRED_DATES)
            if dates is None:
                return None
            column = dates
        elif f in _FLAG_FIELDS:
            column = pc.equal(column, "1")
        out.append(column)
    return out


# Names whose key Arrow can make exactly as normalize.name_key does: only kanji (CJK Unified
# Ideographs), 々, katakana, the middle dot and long-vowel mark, ASCII letters and digits. NFKC
# leaves each of these as it is (none has a compatibility mapping, and precomposed katakana
# stay composed), none is hiragana or white space, and str.lower changes only the ASCII
# letters among them. So fold() is ASCII lower-casing, and the key is that with the legal forms
# removed (the same alternation, leftmost-first in both RE2 and re; no parenthesised form
# can occur) and then ・ and ー (the only characters of _DROP_RE here), or the folded name if
# nothing is left. Any other name goes through name_key itself.
_SIMPLE_NAME = "^[\\x{4E00}-\\x{9FFF}\\x{3005}\\x{30A1}-\\x{30FC}A-Za-z0-9]+$"
_FORMS = "|".join(re.escape(f) for f in sorted(LEGAL_FORMS, key=len, reverse=True))


def name_keys(names: pa.Array) -> pa.Array:
    """normalize.name_key of each name: by Arrow where that is exact (_SIMPLE_NAME), else by
    the function itself."""
    simple = pc.match_substring_regex(names, _SIMPLE_NAME)
    folded = pc.ascii_lower(names)
    keys = pc.replace_substring_regex(folded, _FORMS, "")
    keys = pc.replace_substring_regex(keys, "[・ー]", "")
    keys = pc.if_else(pc.equal(keys, ""), folded, keys)
    other = pc.invert(simple)
    if not pc.any(other).as_py():
        return keys
    rest = pc.filter(names, other).to_pylist()
    return pc.replace_with_mask(keys, other, pa.array([name_key(n) for n in rest], pa.string()))


def _lg_codes(prefectures: pa.Array, cities: pa.Array) -> pa.Array:
    """normalize.lg_code of each row, computed once for each distinct pair (a file has about
    1,900 municipalities). Cells hold no line end here, so one joins a pair unambiguously."""
    pairs = pc.binary_join_element_wise(prefectures, cities, "\n")
    distinct = pc.unique(pairs)
    codes = [lg_code(*pair.split("\n")) for pair in distinct.to_pylist()]
    return pc.take(pa.array(codes, pa.string()), pc.index_in(pairs, value_set=distinct))
