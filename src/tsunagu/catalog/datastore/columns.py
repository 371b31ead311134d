"""Columns of a datastore table, typed by the distribution's data dictionary (データ項目定義).

A column's type comes from the dictionary element whose name matches its header (compared
after NFKC, so 料金（基本） and 料金(基本) match), never from looking at the values. Cells are
parsed as Frictionless parses them by default (Table Schema v1): integers and numbers without
group separators or units, dates ``YYYY-MM-DD``, times ``hh:mm[:ss]``, booleans true/false/1/0.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Protocol

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Double, Text, Time
from sqlalchemy.types import TypeEngine

# Dictionary data_type (as people write it) -> datastore type.
TYPE_ALIASES = {
    "integer": "integer", "int": "integer", "整数": "integer",
    "number": "number", "float": "number", "decimal": "number", "double": "number",
    "数値": "number",
    "date": "date", "日付": "date",
    "time": "time", "時刻": "time",
    "datetime": "datetime", "timestamp": "datetime", "日時": "datetime",
    "boolean": "boolean", "bool": "boolean",
}  # fmt: skip
SQL_TYPES: dict[str, TypeEngine[Any]] = {
    "integer": BigInteger(),
    "number": Double(),
    "date": Date(),
    "time": Time(),
    "datetime": DateTime(),
    "boolean": Boolean(),
    "text": Text(),
}
# Frictionless field types of ours.
FRICTIONLESS_TYPES = {"text": "string"}
INT64 = 2**63

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2})?")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)
TRUE = frozenset({"true", "True", "TRUE", "1"})
FALSE = frozenset({"false", "False", "FALSE", "0"})


class Element(Protocol):
    """What the loader needs of a data dictionary element (catalog DataElement)."""

    name: str
    label_ja: str
    definition: str
    data_type: str
    required: bool
    pattern: str


class CellError(ValueError):
    """A cell that does not parse as its column's type."""


def datastore_type(data_type: str) -> str:
    """The datastore type of a dictionary data_type; anything unknown is text."""
    return TYPE_ALIASES.get(data_type.strip().lower(), "text")


def element_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip()


def _integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise CellError("not an integer (digits only, no commas, units or full-width digits)")
    value = int(text)
    if not -INT64 <= value < INT64:
        raise CellError("integer out of range (64-bit)")
    return value


def _number(text: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise CellError("not a number (digits and a decimal point, no commas or units)")
    value = float(text)
    if math.isinf(value):
        raise CellError("number out of range")
    return value


def _date(text: str) -> date:
    if not _DATE.fullmatch(text):
        raise CellError("not a date in the form YYYY-MM-DD (西暦)")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CellError(f"not a valid date: {exc}") from None


def _time(text: str) -> time:
    if not _TIME.fullmatch(text):
        raise CellError("not a time in the form hh:mm or hh:mm:ss")
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise CellError(f"not a valid time: {exc}") from None


def _datetime(text: str) -> datetime:
    if not _DATETIME.fullmatch(text):
        raise CellError("not a date-time in the form YYYY-MM-DDThh:mm:ss")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CellError(f"not a valid date-time: {exc}") from None
    # Stored naive in UTC, like every timestamp of tsunagu.
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _boolean(text: str) -> bool:
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise CellError("not a boolean (true/false, 1/0)")


def _text(text: str) -> str:
    if "\x00" in text:
        raise CellError("contains a NUL character")
    return text


PARSERS: dict[str, Callable[[str], Any]] = {
    "integer": _integer,
    "number": _number,
    "date": _date,
    "time": _time,
    "datetime": _datetime,
    "boolean": _boolean,
    "text": _text,
}


@dataclass
class Column:
    """One column of a datastore table."""

    id: str  # column name in the table
    label: str  # the header as written in the file
    type: str  # key of SQL_TYPES
    element: str = ""  # data dictionary element name ("" if none matched)
    required: bool = False
    pattern: str = ""
    info: str = ""  # the element's definition

    def parse(self, text: str) -> Any:
        """The cell as a value of the column's type; None for an empty optional cell."""
        text = text.strip()
        if text == "":
            if self.required:
                raise CellError("a value is required (必須項目)")
            return None
        if self.pattern and not re.fullmatch(self.pattern, text):
            raise CellError(f"does not match the pattern {self.pattern}")
        return PARSERS[self.type](text)

    def as_field(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "label": self.label, "element": self.element,
                "required": self.required, "pattern": self.pattern, "info": self.info}  # fmt: skip

    @classmethod
    def from_field(cls, field: dict[str, Any]) -> Column:
        return cls(**{k: field[k] for k in cls.__dataclass_fields__ if k in field})


RESERVED = frozenset({"_id", "_full_text"})


def column_id(label: str, position: int, taken: set[str]) -> str:
    """A unique column name from a header: at most 63 bytes (PostgreSQL's limit), never empty."""
    base = label.strip().replace("\x00", "") or f"column_{position + 1}"
    if base in RESERVED:
        base = f"{base}_"
    base = _clip_bytes(base, 60)
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{_clip_bytes(base, 60 - len(str(n)) - 1)}_{n}"
    taken.add(name)
    return name


def _clip_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore")


def columns_for(header: Sequence[str], elements: Sequence[Element]) -> list[Column]:
    """Columns of a file with this header, typed by the dictionary elements matching by name."""
    by_key: dict[str, Element] = {}
    for element in elements:
        for name in (element.name, element.label_ja):
            if name:
                by_key.setdefault(element_key(name), element)
    taken: set[str] = set()
    columns = []
    for position, label in enumerate(header):
        matched = by_key.get(element_key(label)) if label else None
        columns.append(
            Column(
                id=column_id(label, position, taken), label=label,
                type=datastore_type(matched.data_type) if matched else "text",
                element=matched.name if matched else "",
                required=bool(matched and matched.required),
                pattern=(matched.pattern or "") if matched else "",
                info=(matched.definition or "") if matched else "",
            )
        )  # fmt: skip
    return columns


def missing_elements(header: Sequence[str], elements: Sequence[Element]) -> list[dict[str, Any]]:
    """Dictionary elements that no header names (required ones are errors of the file)."""
    keys = {element_key(h) for h in header}
    return [
        {"element": e.name, "required": e.required}
        for e in elements
        if element_key(e.name) not in keys and element_key(e.label_ja or e.name) not in keys
    ]
