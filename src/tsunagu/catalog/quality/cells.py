"""What one cell says: numbers with units or commas, missing-value marks, era dates, and
platform-dependent characters (機種依存文字), for the machine-readability rules.

Era dates follow the IMI date enrichment (imi-enrichment-date, 標準型日付): ``令和元年1月1日``,
``R1-01-01``, ``平元-1-1``, ``㍻1-1-1``, kanji numerals and full-width digits all normalize to an
ISO date; the era's first year is year 1 whatever the month (as the IMI vectors have it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Era → the Western year of its year 1 (元年).
ERAS = {"明治": 1868, "大正": 1912, "昭和": 1926, "平成": 1989, "令和": 2019}
_ERA_SHORT = {"明": "明治", "大": "大正", "昭": "昭和", "平": "平成", "令": "令和",
              "m": "明治", "t": "大正", "s": "昭和", "h": "平成", "r": "令和",
              "㍾": "明治", "㍽": "大正", "㍼": "昭和", "㍻": "平成", "㋿": "令和"}  # fmt: skip
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6,
                 "七": 7, "八": 8, "九": 9}  # fmt: skip
_NUM = r"(?:\d+|[〇零一二三四五六七八九十百]+)"


def kanji_number(text: str) -> int | None:
    """``十二`` → 12, ``三十一`` → 31, ``二〇一九`` → 2019, ``2019`` → 2019."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _KANJI_DIGITS and c not in "十百" for c in text):
        return None
    if "十" not in text and "百" not in text:  # positional: 二〇一九
        return int("".join(str(_KANJI_DIGITS[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c in _KANJI_DIGITS:
            current = _KANJI_DIGITS[c]
        else:
            total += (current or 1) * (10 if c == "十" else 100)
            current = 0
    return total + current


def _fold(text: str) -> str:
    """NFKC (full-width digits, ㍻ → 平成) and kana date words (ねん/がつ/にち) as 年月日."""
    text = unicodedata.normalize("NFKC", text)
    return text.replace("ねん", "年").replace("がつ", "月").replace("にち", "日").strip()


_ERA_DATE = re.compile(
    rf"^(?P<era>明治|大正|昭和|平成|令和|[明大昭平令]|[MTSHRmtshr])\s*(?P<y>元|{_NUM})"
    rf"(?:\s*年\s*(?P<m1>{_NUM})\s*月\s*(?P<d1>{_NUM})\s*日"
    rf"|[-./](?P<m2>\d{{1,2}})[-./](?P<d2>\d{{1,2}}))$"
)
_WESTERN_DATE = re.compile(
    rf"^(?P<y>\d{{4}}|[〇零一二三四五六七八九]{{4}})(?:\s*年\s*(?P<m1>{_NUM})\s*月\s*(?P<d1>{_NUM})\s*日"
    r"|[-./](?P<m2>\d{1,2})[-./](?P<d2>\d{1,2})|(?P<m3>\d{2})(?P<d3>\d{2}))$"
)


def normalize_date(text: str) -> str | None:
    """The ISO date (標準型日付) a Japanese date notation stands for, or None."""
    folded = _fold(text)
    match = _ERA_DATE.match(folded)
    if match:
        era = match["era"]
        era = _ERA_SHORT.get(era.lower(), era) if len(era) == 1 else era
        year = 1 if match["y"] == "元" else kanji_number(match["y"])
        if year is None:
            return None
        year += ERAS[era] - 1
    else:
        match = _WESTERN_DATE.match(folded)
        if not match:
            return None
        year = kanji_number(match["y"])
        if year is None:
            return None
    month = kanji_number(match["m1"] or match["m2"] or match.groupdict().get("m3") or "")
    day = kanji_number(match["d1"] or match["d2"] or match.groupdict().get("d3") or "")
    if month is None or day is None or not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


# An era year inside any text: 令和4年, 昭和42年, 平成３０年度, R4.1.1, H30/4/1, 令元-1-1.
_ERA_IN_TEXT = re.compile(
    rf"(?:明治|大正|昭和|平成|令和)\s*(?:元|{_NUM})\s*年(?:\s*{_NUM}\s*月(?:\s*{_NUM}\s*日)?)?"
    r"|(?<![A-Za-z0-9])[MTSHR](?:元|\d{1,2})[-./]\d{1,2}[-./]\d{1,2}(?!\d)"
    r"|(?<![\u3040-\u30ff\u4e00-\u9fff])[明大昭平令](?:元|\d{1,2})[-./]\d{1,2}[-./]\d{1,2}(?!\d)"
)
_WESTERN_YEAR = re.compile(r"(?<!\d)(18[6-9]\d|19\d\d|20\d\d|21\d\d)(?!\d)")


def era_dates(text: str) -> list[str]:
    """Era-year notations in ``text`` that have no Western year beside them."""
    folded = unicodedata.normalize("NFKC", text)
    found = [m.group(0) for m in _ERA_IN_TEXT.finditer(folded)]
    if not found or _WESTERN_YEAR.search(folded):
        return []
    return found


def western(era_text: str) -> str:
    """What to write instead of an era notation: the ISO date, or the Western year."""
    iso = normalize_date(era_text)
    if iso:
        return iso
    match = re.match(
        rf"(明治|大正|昭和|平成|令和)\s*(元|{_NUM})\s*年(?:\s*({_NUM})\s*月)?", era_text
    )
    if match:
        year = 1 if match[2] == "元" else kanji_number(match[2])
        month = kanji_number(match[3]) if match[3] else None
        if year is not None:
            return f"{year + ERAS[match[1]] - 1}年" + (f"{month}月" if month else "")
    return ""


# ---- numbers -------------------------------------------------------------------------------

# re.ASCII: Python's \d also matches full-width digits (１２０), which rule 1-3 reports.
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$", re.ASCII)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_TRIANGLE = re.compile(r"^[▲△▼]\s*\d[\d,]*(?:\.\d+)?$")
_UNIT = re.compile(
    r"^(?P<pre>約|¥|\\|\$)?\s*(?P<num>[+-]?\d[\d,]*(?:\.\d+)?)"
    r"(?P<unit>[^\x00-\x7f\d\s,.:/~～()（）-][^\d\s,.:/~～()（）-]{0,4}"
    r"|%|m|cm|mm|km|m2|m3|kg|g|t|ha|ml|L|kW|kWh)$"
)

# Missing/confidential marks. e-Stat's convention (統計表の符号) is "-" 該当なし, "…" 不詳,
# "x" 秘匿, "***" 数値なし, written half-width and each with one meaning; the others are
# look-alikes or words and get a suggested replacement.
CONVENTIONAL_MARKS = frozenset({"-", "…", "x", "X", "***", "*"})
MARK_REPLACEMENTS = {
    "―": "-", "－": "-", "ー": "-", "‐": "-", "—": "-", "−": "-", "–": "-", "ｰ": "-",
    "...": "…", "・・・": "…", "･･･": "…", "ｘ": "x", "Ｘ": "X", "＊": "*", "＊＊＊": "***",
    "不明": "…", "不詳": "…", "秘匿": "x", "非公開": "x", "該当なし": "-", "なし": "-",
    "N/A": "-", "n/a": "-", "NA": "-", "#N/A": "-",
}  # fmt: skip
DASH_LOOKALIKES = frozenset({"―", "－", "ー", "‐", "—", "−", "–", "ｰ"})


@dataclass(frozen=True)
class NumberIssue:
    """A number written as text: what is wrong and the number it should be."""

    kind: str  # fullwidth | thousands | triangle | unit
    value: str  # the clean number
    unit: str = ""


def number_issue(text: str) -> NumberIssue | None:
    """Why a numeric-looking cell is not a plain number, or None when it is not numeric."""
    folded = unicodedata.normalize("NFKC", text).strip()
    if _THOUSANDS.match(folded):
        return NumberIssue("thousands", folded.replace(",", ""))
    if _TRIANGLE.match(folded):
        return NumberIssue("triangle", "-" + folded[1:].strip().replace(",", ""))
    if folded != text.strip() and _PLAIN_NUMBER.match(folded):
        return NumberIssue("fullwidth", folded)
    match = _UNIT.match(folded)
    if match and not _PLAIN_NUMBER.match(folded):
        unit = (match["pre"] or "") + match["unit"]
        return NumberIssue("unit", match["num"].replace(",", ""), unit)
    return None


def is_plain_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(_PLAIN_NUMBER.match(value.strip()))


# ---- characters ----------------------------------------------------------------------------

# Characters CP932 and JIS X 0208 merely map to different code points (～ U+FF5E and 〜 U+301C
# are one Shift_JIS code): ordinary characters, not platform-dependent ones.
_MAPPING_VARIANTS = frozenset("～∥－￠￡￬—―")


def is_platform_dependent(char: str) -> bool:
    """A character outside JIS X 0208/0201 (機種依存文字): NEC/IBM extensions such as ①, №,
    ㈱ and 髙, or beyond Shift_JIS altogether."""
    if char.isascii() or char in _MAPPING_VARIANTS or char in "\r\n\t":
        return False
    try:
        char.encode("shift_jis")
    except UnicodeEncodeError:
        return True
    return False


_CIRCLED = {chr(0x2460 + i): f"({i + 1})" for i in range(20)}


def replacement(char: str) -> str:
    """A JIS X 0208 spelling of a platform-dependent character (① → (1), ㈱ → (株), № → No.)."""
    if char in _CIRCLED:
        return _CIRCLED[char]
    if char == "№":
        return "No."
    special = {"髙": "高", "﨑": "崎", "德": "徳"}
    if char in special:
        return special[char]
    folded = unicodedata.normalize("NFKC", char)
    if folded != char:
        try:
            folded.encode("shift_jis")
            return folded
        except UnicodeEncodeError:
            pass
    return ""


def char_fix(char: str) -> str:
    """How to write ``char`` within JIS X 0208, for a finding's suggestion."""
    fixed = replacement(char)
    return (
        f"{char} → {fixed}" if fixed else f"{char} → (JIS X 0208 の字に / a JIS X 0208 character)"
    )


# A "?" standing where a character was lost when the file was converted to Shift_JIS:
# "1812?3" (1812−3), "11:00?13:30" (11:00～13:30).
LOST_CHARACTER = re.compile(r"(?<=[0-9０-９])\?(?=[0-9０-９])|(?<=[^\x00-\x7f])\?(?=[^\x00-\x7f])")

# A datum per cell: two or more numbers/phone numbers/dates joined by 、,／ or a bracketed
# sub-value beside a number ("100（50）").
_DATUM = r"(?:\(?\d{2,5}\)?[-‐]?\d{1,4}-\d{3,4}|\d+(?:[.:/-]\d+)*)"
MULTI_VALUE = re.compile(
    rf"^\s*{_DATUM}(?:\s*[、，,／/;；・]\s*{_DATUM})+\s*$"
    r"|^\s*\d[\d,.]*\s*[（(]\s*\d[\d,.]*\s*[)）]\s*$"
    r"|^\s*\d{1,6}[ 　]+[^\d\s]+\s*$"  # a code and its name: "01 北海道"
)


def column_letter(number: int) -> str:
    """A spreadsheet column name for a 1-based column number: 1 → A, 27 → AA, 18279 → AAAA.

    openpyxl's get_column_letter stops at Excel's last column (XFD); a CSV file has no such
    limit, and its findings still need a column name."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
