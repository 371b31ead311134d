"""The 15 check items of 総務省's unified rules for machine-readable statistical tables (2020)
and the findings that name them.

Source: 総務省「統計表における機械判読可能なデータの表記方法の統一ルール」(2020-12-18), items
1-1 … 1-13, 2-1 and 2-2, shipped in ``data/machine-readability-rules.csv``.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

RULE_SET = "mic-2020"


@dataclass(frozen=True)
class Rule:
    id: str
    title_ja: str
    title_en: str


@cache
def rules() -> dict[str, Rule]:
    """The 15 mic-2020 rules by id, in the order of the rule document."""
    text = (
        resources.files(__package__)
        .joinpath("data/machine-readability-rules.csv")
        .read_text(encoding="utf-8")
    )
    return {
        row["id"]: Rule(row["id"], row["rule_ja"], row["rule_en"])
        for row in csv.DictReader(text.splitlines())
        if row["rule_set"] == RULE_SET
    }


def rule_order(rule_id: str) -> int:
    return list(rules()).index(rule_id)


# kind → (rule, Japanese message, English message, Japanese fix, English fix). Messages may
# use {value}, {suggestion}, {count} and {header}.
KINDS: dict[str, tuple[str, str, str, str, str]] = {
    "not-table-format": (
        "1-1",
        "形式が {value} で、表として読めません",
        "The format is {value}, not a table",
        "元データを CSV か Excel（.xlsx）でも公開する",
        "Publish the data as CSV or Excel (.xlsx) as well",
    ),
    "multiple-values": (
        "1-2",
        "1セルに複数のデータ: 「{value}」",
        "Several values in one cell: '{value}'",
        "値ごとに列を分ける",
        "Split the values into separate columns",
    ),
    "thousands": (
        "1-3",
        "桁区切りのカンマ付きの数値: 「{value}」",
        "Number with thousands separators: '{value}'",
        "「{suggestion}」のように数値だけを入れる",
        "Write the plain number, e.g. {suggestion}",
    ),
    "fullwidth": (
        "1-3",
        "全角数字: 「{value}」",
        "Full-width digits: '{value}'",
        "半角数字「{suggestion}」にする",
        "Use half-width digits: {suggestion}",
    ),
    "triangle": (
        "1-3",
        "▲/△ で負数を表しています: 「{value}」",
        "▲/△ used for a negative number: '{value}'",
        "マイナス記号で「{suggestion}」と書く",
        "Write a minus sign: {suggestion}",
    ),
    "unit-in-cell": (
        "1-3",
        "単位付きの数値: 「{value}」",
        "Number with a unit in the cell: '{value}'",
        "数値「{suggestion}」だけを入れ、単位は項目名に書く",
        "Keep the number {suggestion} and state the unit in the header",
    ),
    "merged": (
        "1-4",
        "結合セル {value}",
        "Merged cells {value}",
        "結合を解除し、各セルに値を入れる",
        "Unmerge and fill every cell",
    ),
    "edge-space": (
        "1-5",
        "前後に空白: 「{value}」",
        "Leading or trailing space: '{value}'",
        "前後の空白を削除する",
        "Remove the spaces around the value",
    ),
    "spaced-letters": (
        "1-5",
        "文字間の空白で体裁を整えています: 「{value}」",
        "Spaces used to align letters: '{value}'",
        "「{suggestion}」と詰めて書く",
        "Write it without the spaces: {suggestion}",
    ),
    "line-break": (
        "1-5",
        "セル内改行: 「{value}」",
        "Line break inside a cell: '{value}'",
        "改行を削除する（改行が意味を持つなら列を分ける）",
        "Remove the line break (split the column if it separates values)",
    ),
    "blank-header": (
        "1-6",
        "項目名が空欄の列にデータがあります",
        "A column with data has no header",
        "項目名を記入する",
        "Give the column a header",
    ),
    "multi-row-header": (
        "1-6",
        "項目名が複数行にまたがり、上の行で省略されています: 「{value}」",
        "The header spans several rows and omits names in the upper one: '{value}'",
        "1行の項目名にする（例: 平成20年度_件数）",
        "Use one header row (e.g. 2008_count)",
    ),
    "duplicate-header": (
        "1-6",
        "項目名「{value}」が重複しています",
        "Header '{value}' appears twice",
        "項目名を区別できる名前にする",
        "Make the headers distinct",
    ),
    "ditto": (
        "1-6",
        "省略記号「{value}」で上のセルを繰り返しています",
        "Ditto mark '{value}' instead of the value",
        "上のセルと同じ値を書く",
        "Write the value itself",
    ),
    "formula": (
        "1-7",
        "数式が {count} セルにあります（最初は {value}）",
        "{count} cells hold formulas (first: {value})",
        "数式を値に置き換える（値の貼り付け）",
        "Replace the formulas by their values (paste as values)",
    ),
    "objects": (
        "1-8",
        "図形・画像などのオブジェクトが {count} 個あります",
        "{count} objects (shapes, images, text boxes)",
        "オブジェクトを削除し、内容はセルかメタデータに書く",
        "Remove them; put their text in cells or the metadata",
    ),
    "no-unit": (
        "1-9",
        "数値の列「{header}」に単位がありません",
        "Numeric column '{header}' states no unit",
        "「{header}（単位）」のように項目名に単位を書く",
        "State the unit in the header, e.g. '{header} (unit)'",
    ),
    "platform-char": (
        "1-10",
        "機種依存文字: {value}",
        "Platform-dependent characters: {value}",
        "{suggestion}",
        "{suggestion}",
    ),
    "lost-char": (
        "1-10",
        "文字化けで「?」になった文字: 「{value}」",
        "A character lost in encoding conversion ('?'): '{value}'",
        "元の文字（～ や − など）に直す",
        "Restore the original character (～, − …)",
    ),
    "era-date": (
        "1-11",
        "和暦だけの日付: 「{value}」",
        "Japanese era date without a Western year: '{value}'",
        "西暦「{suggestion}」で書く（和暦は併記のみ）",
        "Write the Western date {suggestion} (era only alongside)",
    ),
    "prefecture-name": (
        "1-12",
        "都道府県名が正式名称ではありません: 「{value}」",
        "Prefecture not written in full: '{value}'",
        "「{suggestion}」と書く",
        "Write '{suggestion}'",
    ),
    "bad-area-code": (
        "1-12",
        "地方公共団体コードが正しくありません: 「{value}」",
        "Not a valid local government code: '{value}'",
        "6桁の全国地方公共団体コード（検査数字付き）か5桁の標準地域コードを書く",
        "Use the 6-digit code with its check digit, or the 5-digit area code",
    ),
    "mark": (
        "1-13",
        "数値の列に特殊記号「{value}」",
        "Special mark '{value}' in a numeric column",
        "「{suggestion}」に統一し、意味を注記する",
        "Use '{suggestion}' and define its meaning in the metadata",
    ),
    "missing-dash": (
        "1-13",
        "欠測を「{value}」で表しています",
        "Missing value written as '{value}'",
        "空欄にする（空欄の意味をメタデータに書く）",
        "Leave the cell empty and say what empty means in the metadata",
    ),
    "blank-row": (
        "2-1",
        "表の途中に空行が {count} 行あります",
        "{count} blank rows split the table",
        "空行を削除する",
        "Remove the blank rows",
    ),
    "blank-column": (
        "2-1",
        "表の途中に空列があります",
        "A blank column splits the table",
        "空列を削除する",
        "Remove the blank column",
    ),
    "above-table": (
        "2-2",
        "表の上に表題・注記などの行: 「{value}」",
        "Title or note rows above the table: '{value}'",
        "表題や時点はメタデータに移し、1行目を項目名にする",
        "Move titles and dates to the metadata; start with the header row",
    ),
    "below-table": (
        "2-2",
        "表の下に注記などの行が {count} 行: 「{value}」",
        "{count} note rows below the table: '{value}'",
        "注記はメタデータか別シートに移す",
        "Move notes to the metadata or another sheet",
    ),
    "second-table": (
        "2-2",
        "同じシートに2つ目の表があります: 「{value}」",
        "A second table on the same sheet: '{value}'",
        "表ごとにシートかファイルを分ける",
        "Put each table on its own sheet or file",
    ),
}


@dataclass(frozen=True)
class Finding:
    """One way a file breaks a rule: where, how often, an example, and the concrete fix."""

    rule: str
    kind: str
    sheet: str = ""
    row: int | None = None  # 1-based, as a spreadsheet shows it
    column: str = ""  # spreadsheet letter (A, B … AA)
    header: str = ""
    count: int = 1
    value: str = ""
    suggestion: str = ""

    def message(self, lang: str = "en") -> str:
        _, ja, en, _, _ = KINDS[self.kind]
        return (ja if lang == "ja" else en).format(**self._params())

    def fix(self, lang: str = "en") -> str:
        _, _, _, ja, en = KINDS[self.kind]
        return (ja if lang == "ja" else en).format(**self._params())

    def _params(self) -> dict[str, Any]:
        return {"value": self.value, "suggestion": self.suggestion, "count": self.count,
                "header": self.header or self.column}  # fmt: skip

    def where(self) -> str:
        parts = [f"sheet {self.sheet!r}"] if self.sheet else []
        if self.column:
            parts.append(f"column {self.column}" + (f" ({self.header})" if self.header else ""))
        if self.row is not None:
            parts.append(f"row {self.row}")
        return ", ".join(parts) or "file"

    def as_dict(self, lang: str = "en") -> dict[str, Any]:
        out = asdict(self)
        out["message"] = self.message(lang)
        out["fix"] = self.fix(lang)
        return out


def new_finding(kind: str, **fields: Any) -> Finding:
    return Finding(rule=KINDS[kind][0], kind=kind, **fields)
