"""Character folding for address matching: widths, hyphens, kanji numerals, 異体字, kana variants.

Why a hand-written normalizer: no maintained Python library matches addresses against ABR
identifiers (町字id, 街区id, 住居id, 地番id); the TypeScript tools (abr-geocoder, Geolonia's
normalize-japanese-addresses) do not run in-process here. Matching compares *folded keys*: the
same fold is applied to ABR names when the index is built and to the input when it is read, so
every rule below only has to make two spellings of one name collapse to one key.
"""

from __future__ import annotations

import re
import unicodedata

# Old and variant forms (旧字体・異体字) → the form ABR mostly uses. Both sides are folded, so
# the direction only matters for readability. CJK compatibility ideographs with a canonical
# decomposition (e.g. U+FA10 塚) are already handled by NFKC; these twelve-plus are not.
_ITAIJI = {
    "﨑": "崎",
    "嵜": "崎",
    "髙": "高",
    "邊": "辺",
    "邉": "辺",
    "澤": "沢",
    "濱": "浜",
    "濵": "浜",
    "齋": "斉",
    "齊": "斉",
    "斎": "斉",
    "藪": "薮",
    "籔": "薮",
    "檜": "桧",
    "舘": "館",
    "冨": "富",
    "嶋": "島",
    "嶌": "島",
    "國": "国",
    "槇": "槙",
    "瀧": "滝",
    "眞": "真",
    "廣": "広",
    "惠": "恵",
    "龍": "竜",
    "萬": "万",
    "德": "徳",
    "櫻": "桜",
    "曾": "曽",
    "溪": "渓",
    "鰺": "鯵",
    "桒": "桑",
    "舩": "船",
    "條": "条",
    "莊": "荘",
    "淺": "浅",
    "峯": "峰",
    "兒": "児",
    "增": "増",
    "壽": "寿",
    "驛": "駅",
    "縣": "県",
    "與": "与",
    "亞": "亜",
    "會": "会",
    "實": "実",
    "鐵": "鉄",
    "黑": "黒",
    "澁": "渋",
    "藏": "蔵",
    "驒": "騨",
    "螢": "蛍",
    "舍": "舎",
    "禮": "礼",
    "靜": "静",
    "遙": "遥",
    "曉": "暁",
    "籠": "篭",
    "鷗": "鴎",
    "麴": "麹",
    "龜": "亀",
    "穗": "穂",
    "蘆": "芦",
    "渕": "淵",
    "淸": "清",
    "榮": "栄",
    "圓": "円",
    "緣": "縁",
    "繩": "縄",
    "豐": "豊",
    "眾": "衆",
    "竈": "釜",
    "竃": "釜",
    "娄": "婁",
    "諌": "諫",
    "脊": "背",
    "巳": "己",
    "已": "己",
    "佛": "仏",
    "檮": "梼",
    "釡": "釜",
    "鴬": "鶯",
    "鷆": "鷏",
    "迩": "邇",
    "爾": "邇",
    "邨": "村",
    "巖": "巌",
    "栁": "柳",
    "祗": "祇",
    "靏": "鶴",
    "槗": "橋",
    "𣘺": "橋",
    # Kana written interchangeably in place names (ケ/ヶ/が/ガ, ノ/の/之, ツ/つ).
    "ヶ": "ケ",
    "ヵ": "ケ",
    "が": "ケ",
    "ガ": "ケ",
    "の": "ノ",
    "之": "ノ",
    "つ": "ツ",
    # Old-style financial numerals (大字): 壱番地.
    "壱": "一",
    "弐": "二",
    "参": "三",
    "壹": "一",
    "貳": "二",
    "參": "三",
    "拾": "十",
}
_TRANSLATE = str.maketrans(_ITAIJI)
# Dashes that are never part of a name; ー (長音) is, so it is only a hyphen between numbers.
# Spaces around it go too: fold() drops spaces, and "1 ー2" must become the same key as "1ー2".
_DASHES = re.compile(r"[‐‑‒–—―−─━－﹣⁃]")
_CHOON_AFTER_NUMBER = re.compile(
    r"(?<=[0-9〇一二三四五六七八九十百千])\s*[ーｰ]\s*(?=[0-9〇一二三四五六七八九十百千])"
)
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\ufe00-\ufe0f\U000e0100-\U000e01ef]")
# A character lost in decoding (Shift_JIS read as UTF-8, …) arrives as one or more U+FFFD; the run
# stands for one unknown character, which the matcher lets match any one character of a name
# (abr-geocoder does the same with its fuzzy character "?", which is also what the run becomes).
WILDCARD = "?"
_GARBLED = re.compile("\ufffd+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")

_KANJI_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
KANJI_NUMERAL_RUN = re.compile(r"[〇零一二三四五六七八九十百千]+")


def clean(text: str) -> str:
    """NFKC, dashes unified, invisible and control characters dropped, spaces squeezed.

    This is the display form (``others`` keeps it); 異体字 and kana variants are folded only in
    the matching key (:func:`fold`), so a building name keeps its own spelling.
    """
    text = _GARBLED.sub(WILDCARD, _INVISIBLE.sub("", text))
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _DASHES.sub("-", text)
    text = _CHOON_AFTER_NUMBER.sub("-", text)
    return _SPACES.sub(" ", text).strip()


def kanji_to_int(run: str) -> int | None:
    """The value of a kanji numeral (二十三, 百二, 一〇五), or None if it is not one."""
    if not run:
        return None
    if all(ch in _KANJI_DIGITS for ch in run):  # positional: 一〇五
        return int("".join(str(_KANJI_DIGITS[ch]) for ch in run))
    total = 0
    current = 0
    for ch in run:
        if ch in _KANJI_DIGITS:
            current = current * 10 + _KANJI_DIGITS[ch] if current else _KANJI_DIGITS[ch]
        elif ch in _KANJI_UNITS:
            total += (current or 1) * _KANJI_UNITS[ch]
            current = 0
        else:
            return None
    return total + current


def _numeral_to_digits(match: re.Match[str]) -> str:
    value = kanji_to_int(match.group(0))
    return match.group(0) if value is None else str(value)


def fold(text: str) -> str:
    """The matching key of a cleaned name: no spaces, kanji numerals as Arabic digits."""
    return KANJI_NUMERAL_RUN.sub(_numeral_to_digits, text.replace(" ", "").translate(_TRANSLATE))


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """:func:`fold` of a cleaned string, with each key position's offset in ``text``.

    The map has one extra entry (``len(text)``) so a key end maps to a text end.
    """
    text = text.translate(_TRANSLATE)  # one character for one: offsets stay valid
    out: list[str] = []
    offsets: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == " ":
            i += 1
            continue
        match = KANJI_NUMERAL_RUN.match(text, i) if ch in "〇零一二三四五六七八九十百千" else None
        if match:
            digits = _numeral_to_digits(match)
            out.append(digits)
            offsets.extend([i] * len(digits))
            i = match.end()
            continue
        out.append(ch)
        offsets.append(i)
        i += 1
    offsets.append(n)
    return "".join(out), offsets


def arabic(text: str) -> str:
    """Kanji numerals in ``text`` as Arabic digits (for 番地/号 parts)."""
    return KANJI_NUMERAL_RUN.sub(_numeral_to_digits, text)
