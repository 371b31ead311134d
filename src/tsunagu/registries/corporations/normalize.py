"""Keys for finding corporations by name, and the NTA address codes as a 団体コード.

A name key is the name after Unicode NFKC (full/half width, ㈱ → (株)), hiragana folded to
katakana, spaces and middle dots removed, ASCII lower-cased, and the legal form (株式会社,
(株), 一般社団法人 …) removed wherever it stands — so 「株式会社日立製作所」, 「日立製作所」
and 「(株)日立製作所」 share the key 「日立製作所」.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from tsunagu.kernel import is_valid_lg_code

LEGAL_FORMS = (
    "特定非営利活動法人", "一般社団法人", "一般財団法人", "公益社団法人", "公益財団法人",
    "社会福祉法人", "独立行政法人", "地方独立行政法人", "国立大学法人", "医療法人社団",
    "医療法人財団", "医療法人", "学校法人", "宗教法人", "農事組合法人", "有限責任事業組合",
    "株式会社", "有限会社", "合同会社", "合名会社", "合資会社", "相互会社",
)  # fmt: skip
ABBREVIATIONS = ("株", "有", "同", "名", "資", "社", "財", "医", "学", "福", "特非", "一社",
                 "一財", "公社", "公財", "宗", "独")  # fmt: skip
# Longest first so 医療法人社団 wins over 医療法人; (株) etc. after NFKC.
_FORM_RE = re.compile(
    "|".join(
        [re.escape(f) for f in sorted(LEGAL_FORMS, key=len, reverse=True)]
        + [r"\(" + re.escape(a) + r"\)" for a in ABBREVIATIONS]
    )
)
_DROP_RE = re.compile(r"[\s・･\-‐ー－]")
_SPACE_RE = re.compile(r"\s+")
_HIRAGANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
_HAS_HIRAGANA = re.compile("[\u3041-\u3096]")


def fold(text: str) -> str:
    """NFKC, hiragana → katakana, no spaces, ASCII lower case."""
    text = unicodedata.normalize("NFKC", text)
    # Most names have no hiragana; looking costs a fifth of translating (a lookup per character).
    if _HAS_HIRAGANA.search(text):
        text = text.translate(_HIRAGANA)
    return _SPACE_RE.sub("", text).lower()


def name_key(name: str) -> str:
    """The search key of a corporation's name (legal form and punctuation removed)."""
    folded = fold(name)
    return _DROP_RE.sub("", _FORM_RE.sub("", folded)) or folded


def furigana_key(furigana: str) -> str:
    """The search key of a reading (フリガナ): katakana, no spaces or long-vowel marks."""
    if not furigana:  # most rows of a full file have none
        return ""
    return _DROP_RE.sub("", fold(furigana))


@functools.lru_cache(maxsize=4096)  # about 1,900 municipalities, millions of rows
def lg_code(prefecture_code: str, city_code: str) -> str | None:
    """The 6-digit 全国地方公共団体コード (with its check digit) of NTA's 2+3 digit codes."""
    base = prefecture_code + city_code
    if len(prefecture_code) != 2 or len(city_code) != 3 or not base.isdigit() or not base.isascii():
        return None
    if not 1 <= int(prefecture_code) <= 47:  # 99 marks an address abroad
        return None
    for check in "0123456789":
        if is_valid_lg_code(base + check):
            return base + check
    return None  # pragma: no cover - one of ten digits always satisfies JIS X 0402
