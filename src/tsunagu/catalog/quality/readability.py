"""Check a CSV or XLSX file against the 15 machine-readability rules (総務省 2020).

Rows are streamed once; what is kept per sheet is bounded by the number of columns (counts,
the first row and one example per column and kind), so a file of any length checks in the
same memory. How the table is found: the header is the first of the first 30 rows that fills
at least half the widest row with text; rows above it are titles (2-2), rows after a blank
gap that fill a quarter of the width or less are notes (2-2), wider ones after a gap either
continue the table (2-1: blank rows split it) or, when they are all text, start a second
table (2-2).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import IO, Any

from tsunagu.kernel import is_valid_lg_code

from . import cells
from .rules import Finding, new_finding, rule_order
from .tables import Sheet, open_table

HEADER_SCAN = 30
MAX_PER_SHEET_RULE = 50  # merged ranges listed one by one, then one "and N more"
DITTO = frozenset({"〃", "同上", "〃〃", "″", "同"})
PREFECTURES = frozenset(
    [
        "北海道",
        "青森県",
        "岩手県",
        "宮城県",
        "秋田県",
        "山形県",
        "福島県",
        "茨城県",
        "栃木県",
        "群馬県",
        "埼玉県",
        "千葉県",
        "東京都",
        "神奈川県",
        "新潟県",
        "富山県",
        "石川県",
        "福井県",
        "山梨県",
        "長野県",
        "岐阜県",
        "静岡県",
        "愛知県",
        "三重県",
        "滋賀県",
        "京都府",
        "大阪府",
        "兵庫県",
        "奈良県",
        "和歌山県",
        "鳥取県",
        "島根県",
        "岡山県",
        "広島県",
        "山口県",
        "徳島県",
        "香川県",
        "愛媛県",
        "高知県",
        "福岡県",
        "佐賀県",
        "長崎県",
        "熊本県",
        "大分県",
        "宮崎県",
        "鹿児島県",
        "沖縄県",
    ]
)
_SHORT_PREFECTURES = {p[:-1]: p for p in PREFECTURES if p != "北海道"}
# Headers of columns that are identifiers or positions, not quantities: they need no unit.
_NOT_QUANTITY = re.compile(
    r"コード|code|ID|id|NO|No|no|№|番号|番地|緯度|経度|lat|lon|郵便|電話|FAX|年度|年次|^年$|順位|区分"
)
_UNIT_IN_HEADER = re.compile(
    r"[（(［\[].+[)）］\]]|単位|数$|人$|円$|件$|率$|割合|％|%|平方メートル|㎡|[mMkK]$|歳$|時間$|"
    r"分$|秒$|台$|戸$|世帯$|箇所$|か所$|回$|度$|指数|比$|kg|ha$|床$|定員$"
)
_SPACED_LETTERS = re.compile(r"^\S(?:[ 　]+\S){1,5}$")
_NOTE_START = re.compile(
    r"^\s*(?:※|注|★|☆|◆|●|■|\*|＊|（注|\(注|資料|出典|備考|[0-9０-９]+[.．)）])"
)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _dashes(text: str) -> str:
    """Headers misspelt with ― or － for the long vowel ー (コ―ド) still name a code."""
    return re.sub("[―－‐-]", "ー", text)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not cells.is_plain_number(value)


@dataclass
class _Tally:
    """How often one kind of finding occurs in one column, and where first."""

    count: int = 0
    row: int = 0
    value: str = ""
    suggestion: str = ""
    chars: dict[str, str] = field(default_factory=dict)

    def add(self, row: int, value: str, suggestion: str = "") -> None:
        if not self.count:
            self.row, self.value, self.suggestion = row, value[:80], suggestion
        self.count += 1


@dataclass
class _Column:
    non_empty: int = 0
    numbers: int = 0
    flags_only: bool = True  # every number is 0 or 1: a yes/no column, which has no unit
    marks: int = 0
    blank_after_value: int = 0
    distinct_text: int = 0
    last_text: str = ""
    tallies: dict[str, _Tally] = field(default_factory=dict)

    def tally(self, kind: str) -> _Tally:
        return self.tallies.setdefault(kind, _Tally())


class SheetCheck:
    """The findings of one sheet, built row by row."""

    def __init__(self, sheet: Sheet) -> None:
        self.sheet = sheet
        self.findings: list[Finding] = []
        self.columns: dict[int, _Column] = {}
        self.outside: dict[int, _Column] = {}  # text checks of rows outside the table
        self.headers: list[str] = []
        self.header_row = 0
        self.units_stated = False
        self.rows = 0

    # -- the pass over the rows --------------------------------------------------------------

    def run(self) -> list[Finding]:
        head: list[Sequence[Any]] = []
        rows = iter(self.sheet.rows)
        for row in rows:
            head.append(row)
            if len(head) == HEADER_SCAN:
                break
        header_index = self._find_header(head)
        for number, row in enumerate(head[:header_index], start=1):
            self._outside_row(number, row, above=True)
        if header_index < len(head):
            self._header(header_index + 1, head[header_index])
        state = _TableState(self)
        for number, row in enumerate(head[header_index + 1 :], start=header_index + 2):
            state.feed(number, row)
        for number, row in enumerate(rows, start=len(head) + 1):
            state.feed(number, row)
        state.finish()
        self.rows = state.last_row
        self._sheet_extras()
        self._column_findings()
        return self.findings

    def _find_header(self, head: list[Sequence[Any]]) -> int:
        widths = [sum(1 for v in row if _text(v).strip()) for row in head]
        widest = max(widths, default=0)
        for index, row in enumerate(head):
            filled = [v for v in row if _text(v).strip()]
            if len(filled) >= max(2, (widest + 1) // 2) and sum(
                _is_text(v) for v in filled
            ) >= 0.8 * len(filled):
                return index
        return next((i for i, w in enumerate(widths) if w), 0)

    def _header(self, number: int, row: Sequence[Any]) -> None:
        self.header_row = number
        self.headers = [_text(v).strip() for v in row]
        seen: dict[str, int] = {}
        for index, value in enumerate(row):
            text = _text(value)
            self._text_checks(self.columns, number, index, text, in_table=False)
            name = text.strip()
            if name and name in seen:
                self._col(index).tally("duplicate-header").add(number, name)
            seen.setdefault(name, index)

    def _outside_row(self, number: int, row: Sequence[Any], *, above: bool) -> str:
        first = ""
        for index, value in enumerate(row):
            text = _text(value)
            if text.strip():
                first = first or text.strip()
                if "単位" in text:
                    self.units_stated = True
                self._text_checks(self.outside, number, index, text, in_table=False)
        if above and first:
            self.findings.append(new_finding("above-table", sheet=self.sheet.name, row=number,
                                             value=first[:80]))  # fmt: skip
        return first

    def _col(self, index: int, table: dict[int, _Column] | None = None) -> _Column:
        return (self.columns if table is None else table).setdefault(index, _Column())

    def data_row(self, number: int, row: Sequence[Any]) -> None:
        for index, value in enumerate(row):
            column = self._col(index)
            text = _text(value)
            if not text.strip():
                if column.non_empty:
                    column.blank_after_value += 1
                continue
            column.non_empty += 1
            self._text_checks(self.columns, number, index, text, in_table=True)
            if isinstance(value, str) and text.strip() in DITTO:
                column.tally("ditto").add(number, text.strip())
            self._value_checks(column, number, value, text)

    # -- per cell ----------------------------------------------------------------------------

    def _text_checks(
        self, table: dict[int, _Column], number: int, index: int, text: str, *, in_table: bool
    ) -> None:
        if not text or not isinstance(text, str):
            return
        column = self._col(index, table)
        stripped = text.strip(" 　\t")
        if stripped != text and stripped and "\n" not in text[-1:]:
            column.tally("edge-space").add(number, text, stripped)
        if "\n" in text.strip() or "\r" in text.strip():
            column.tally("line-break").add(number, text.replace("\r", "").replace("\n", "⏎"))
        elif _SPACED_LETTERS.match(stripped) and not stripped.isascii():
            column.tally("spaced-letters").add(number, stripped, re.sub(r"[ 　]+", "", stripped))
        odd = [c for c in dict.fromkeys(text) if cells.is_platform_dependent(c)]
        if odd:
            tally = column.tally("platform-char")
            tally.add(number, text)
            for char in odd:
                if len(tally.chars) < 20:
                    tally.chars.setdefault(char, cells.char_fix(char))
        if cells.LOST_CHARACTER.search(text):
            column.tally("lost-char").add(number, text)
        for era in cells.era_dates(text):
            column.tally("era-date").add(number, era, cells.western(era))
            break
        if in_table and cells.MULTI_VALUE.match(text) and not cells.number_issue(text):
            column.tally("multiple-values").add(number, text)

    def _value_checks(self, column: _Column, number: int, value: Any, text: str) -> None:
        stripped = text.strip()
        if cells.is_plain_number(value) or cells.is_plain_number(stripped):
            column.numbers += 1
            column.flags_only = column.flags_only and stripped in ("0", "1", "0.0", "1.0")
            return
        if stripped in cells.CONVENTIONAL_MARKS or stripped in cells.MARK_REPLACEMENTS:
            column.marks += 1
            suggestion = cells.MARK_REPLACEMENTS.get(stripped, "")
            if suggestion:
                column.tally("mark").add(number, stripped, suggestion)
            if stripped in cells.DASH_LOOKALIKES:
                column.tally("missing-dash").add(number, stripped)
            return
        issue = cells.number_issue(stripped)
        if issue is not None:
            column.numbers += 1
            kind = "unit-in-cell" if issue.kind == "unit" else issue.kind
            column.tally(kind).add(number, stripped, issue.value)
            return
        if stripped != column.last_text:
            column.distinct_text += 1
            column.last_text = stripped

    # -- per sheet ---------------------------------------------------------------------------

    def _sheet_extras(self) -> None:
        name = self.sheet.name
        for ref in self.sheet.merges[:MAX_PER_SHEET_RULE]:
            top_left = ref.split(":")[0]
            letters = top_left.rstrip("0123456789")
            self.findings.append(new_finding("merged", sheet=name, row=int(top_left[len(letters):]),
                                             column=letters, value=ref))  # fmt: skip
        if self.sheet.merge_count > MAX_PER_SHEET_RULE:
            self.findings.append(new_finding(
                "merged", sheet=name, count=self.sheet.merge_count - MAX_PER_SHEET_RULE,
                value=f"… (+{self.sheet.merge_count - MAX_PER_SHEET_RULE})",
            ))  # fmt: skip
        if self.sheet.formula_count:
            first = self.sheet.formulas[0]
            letters = first.rstrip("0123456789")
            self.findings.append(new_finding(
                "formula", sheet=name, row=int(first[len(letters):] or 0) or None, column=letters,
                count=self.sheet.formula_count, value=first,
            ))  # fmt: skip
        if self.sheet.objects:
            self.findings.append(new_finding("objects", sheet=name, count=self.sheet.objects))

    def _column_findings(self) -> None:
        for table, in_table in ((self.outside, False), (self.columns, True)):
            for index in sorted(table):
                self._emit_column(index, table[index], in_table=in_table)

    def _emit_column(self, index: int, column: _Column, *, in_table: bool) -> None:
        letter = cells.column_letter(index + 1)
        header = self.headers[index] if in_table and index < len(self.headers) else ""
        numeric = in_table and column.numbers >= max(1, 0.8 * (column.non_empty - column.marks))
        base = {"sheet": self.sheet.name, "column": letter, "header": header}
        for kind, tally in column.tallies.items():
            if kind in ("thousands", "triangle", "unit-in-cell", "mark") and not numeric:
                continue
            if kind == "fullwidth" and not numeric:
                continue
            suggestion = tally.suggestion
            if kind == "platform-char":
                value = " ".join(tally.chars)
                suggestion = "; ".join(tally.chars.values())
                self.findings.append(
                    new_finding(kind, row=tally.row, count=tally.count, value=value,
                                suggestion=suggestion, **base)
                )  # fmt: skip
                continue
            if kind == "missing-dash" and numeric:
                continue  # reported as "mark" with its replacement
            self.findings.append(
                new_finding(kind, row=tally.row, count=tally.count, value=tally.value,
                            suggestion=suggestion, **base)
            )  # fmt: skip
        if not in_table:
            return
        if column.non_empty and not header and index < max(len(self.headers), 1) + 50:
            self.findings.append(new_finding("blank-header", row=self.header_row or None,
                                             count=column.non_empty, **base))  # fmt: skip
        if (
            numeric
            and not self.units_stated
            and header
            and column.numbers
            and not column.flags_only
            and not _NOT_QUANTITY.search(_dashes(header))
            and not _UNIT_IN_HEADER.search(header)
        ):
            self.findings.append(new_finding("no-unit", row=self.header_row or None, **base))
        if (
            index <= 1
            and header
            and not numeric
            and column.non_empty >= 2
            and column.blank_after_value >= 2 * column.non_empty
            and column.distinct_text == column.non_empty
        ):
            self.findings.append(new_finding("ditto", row=self.header_row + 2, value="（空欄）",
                                             count=column.blank_after_value, **base))  # fmt: skip
        self._region_findings(column, base)

    def _region_findings(self, column: _Column, base: dict[str, Any]) -> None:
        del column  # region values are checked in _RegionCheck while streaming

    def region(self, number: int, row: Sequence[Any]) -> None:
        """1-12: prefecture names in full, valid local government codes."""
        for index, header in enumerate(self.headers):
            if index >= len(row):
                break
            text = unicodedata.normalize("NFKC", _text(row[index])).strip()
            if not text:
                continue
            column = self._col(index)
            if "都道府県" in header and "コード" not in _dashes(header):
                if text not in PREFECTURES and text in _SHORT_PREFECTURES:
                    column.tally("prefecture-name").add(number, text, _SHORT_PREFECTURES[text])
            elif "コード" in _dashes(header) and re.search(
                r"都道府県|市区町村|市町村|団体", header
            ):
                if re.fullmatch(r"\d{5}", text):
                    continue
                if not is_valid_lg_code(text):
                    column.tally("bad-area-code").add(number, _text(row[index]).strip())


class _TableState:
    """Where a row falls: in the table, in a blank gap, in notes below it, or a new table."""

    def __init__(self, check: SheetCheck) -> None:
        self.check = check
        self.width = max(1, sum(1 for h in check.headers if h))
        self.gap: list[int] = []
        self.notes = 0
        self.note_row = 0
        self.note_text = ""
        self.second_table = False
        self.data_rows = 0
        self.last_row = check.header_row

    def feed(self, number: int, row: Sequence[Any]) -> None:
        filled = [v for v in row if _text(v).strip()]
        self.last_row = number
        if not filled:
            if not self.notes:
                self.gap.append(number)
            return
        first = _text(filled[0]).strip()
        narrow = len(filled) <= max(1, self.width // 4)
        if self.notes or self.second_table or (narrow and (self.gap or _NOTE_START.match(first))):
            if not self.second_table and narrow:
                if not self.notes:
                    self.note_row, self.note_text = number, first
                self.notes += 1
                self.check._outside_row(number, row, above=False)
                return
            if not self.second_table:
                self.second_table = True
                self.check.findings.append(
                    new_finding(
                        "second-table", sheet=self.check.sheet.name, row=number, value=first[:80]
                    )
                )
            self.check._outside_row(number, row, above=False)
            return
        if not self.data_rows and self._continues_header(row, filled):
            return
        if self.gap:
            if all(_is_text(v) for v in filled) and len(filled) >= self.width // 2:
                self.second_table = True
                self.check.findings.append(
                    new_finding(
                        "second-table", sheet=self.check.sheet.name, row=number, value=first[:80]
                    )
                )
                self.check._outside_row(number, row, above=False)
                return
            self.check.findings.append(
                new_finding(
                    "blank-row", sheet=self.check.sheet.name, row=self.gap[0], count=len(self.gap)
                )
            )
            self.gap = []
        self.data_rows += 1
        self.check.data_row(number, row)
        self.check.region(number, row)

    def _continues_header(self, row: Sequence[Any], filled: list[Any]) -> bool:
        """A text row under the header, naming columns the header row left blank (a header
        over several rows, as 平成20年度 over 金額/件数): joined into one header."""
        headers = self.check.headers
        fills_gap = any(
            _text(v).strip() and (i >= len(headers) or not headers[i]) for i, v in enumerate(row)
        )
        if len(filled) < 2 or not all(_is_text(v) for v in filled) or not (fills_gap or self.gap):
            return False
        above = ""
        joined = []
        for index in range(max(len(headers), len(row))):
            top = headers[index] if index < len(headers) else ""
            above = top or above  # a blank header cell continues the one on its left
            low = _text(row[index]).strip() if index < len(row) else ""
            joined.append("_".join(p for p in (above, low) if p) if low else top)
        self.check.findings.append(
            new_finding(
                "multi-row-header",
                sheet=self.check.sheet.name,
                row=self.check.header_row,
                value=" / ".join(str(_text(v)).strip() for v in filled[:4]),
            )
        )
        self.check.headers = joined
        self.width = max(self.width, sum(1 for h in joined if h))
        if self.gap:
            self.check.findings.append(
                new_finding(
                    "blank-row", sheet=self.check.sheet.name, row=self.gap[0], count=len(self.gap)
                )
            )
            self.gap = []
        return True

    def finish(self) -> None:
        if self.notes:
            self.check.findings.append(
                new_finding(
                    "below-table",
                    sheet=self.check.sheet.name,
                    row=self.note_row,
                    count=self.notes,
                    value=self.note_text[:80],
                )
            )
        headers = self.check.headers
        last = max((i for i, h in enumerate(headers) if h), default=-1)
        for index in range(last):
            if not headers[index] and not self.check._col(index).non_empty:
                self.check.findings.append(
                    new_finding(
                        "blank-column",
                        sheet=self.check.sheet.name,
                        row=self.check.header_row,
                        column=cells.column_letter(index + 1),
                    )
                )


@dataclass
class Report:
    """The findings of one file and what was read."""

    format: str
    encoding: str
    sheets: list[str]
    rows: int
    findings: list[Finding]

    def as_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "format": self.format, "encoding": self.encoding or None, "sheets": self.sheets,
            "rows": self.rows, "findings": [f.as_dict(lang) for f in self.findings],
        }  # fmt: skip


def check_file(file: IO[bytes], name: str = "", *, max_bytes: int = 100_000_000) -> Report:
    """Check a CSV or XLSX file; raises a quality Problem if it cannot be read."""
    table = open_table(file, name, max_bytes=max_bytes)
    findings: list[Finding] = []
    sheets, rows = [], 0
    for sheet in table.sheets:
        check = SheetCheck(sheet)
        findings += check.run()
        sheets.append(sheet.name)
        rows += check.rows
    findings.sort(key=lambda f: (rule_order(f.rule), f.sheet != sheets[0] if sheets else 0,
                                 sheets.index(f.sheet) if f.sheet in sheets else 0,
                                 f.row if f.row is not None else 1 << 30, f.column))  # fmt: skip
    return Report(table.format, table.encoding, sheets, rows, findings)
