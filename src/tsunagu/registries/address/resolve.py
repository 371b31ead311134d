"""Resolving the rest of an address (after the municipality) to a 町字 (``machiaza_id``).

Other registries hold addresses as text split the NTA's way — a municipality code and the rest
(「丸の内一丁目６番６号」). :func:`resolve_machiaza` reads that municipality's 町字 valid on a
date and answers the one whose name is the longest prefix of the text. Names are compared as the
geocoder's folded keys (:func:`~tsunagu.registries.address.geocoder.normalize.fold`), so 一丁目,
１丁目 and 1丁目, ケ and ヶ, and old character forms all match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from .geocoder.normalize import clean, fold
from .reading import iter_towns

# Prefixes written or left out (大字 関ケ原, 字 日出): a name matches with and without them.
_OPTIONAL_PREFIXES = ("大字", "字")
_LG_CODE = re.compile(r"[0-9]{6}")
_CHOME = re.compile(r"([0-9]+)丁目")
# A shorter name followed by one of these is part of a longer name the registry lacks
# (本郷 in 「本郷町…」, 丸の内 in 「丸の内五丁目」 when there is no such 丁目).
_NOT_AFTER_NAME = "町丁"


def _key(name: str) -> str:
    return fold(clean(name))


def _without_prefix(key: str) -> list[str]:
    for prefix in _OPTIONAL_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return [key, key[len(prefix) :]]
    return [key]


def town_keys(row: dict[str, Any]) -> Iterator[str]:
    """The folded spellings of one 町字 row's full name (大字・町 + 丁目 + 小字)."""
    oaza = _without_prefix(_key(row["oaza_cho"])) if row.get("oaza_cho") else [""]
    chome = _key(row["chome"]) if row.get("chome") else ""
    koaza = _without_prefix(_key(row["koaza"])) if row.get("koaza") else [""]
    for head in oaza:
        for tail in koaza:
            yield head + chome + tail
        short = _CHOME.fullmatch(chome)
        if short and not row.get("koaza"):
            yield head + short.group(1) + "-"  # 「丸の内1-6-6」: the 丁目 as the first number


def _fits(text: str, name: str) -> bool:
    if not name or not text.startswith(name):
        return False
    rest = text[len(name) :]
    if not rest:
        return True
    if rest[0] in _NOT_AFTER_NAME:
        return False
    return not (name[-1].isdigit() and rest[0].isdigit())


def resolve_machiaza(
    session: Session, lg_code: str, text: str, as_of: date | None = None
) -> str | None:
    """The ``machiaza_id`` of the 町字 of ``lg_code`` that ``text`` starts with, or None.

    ``lg_code`` is a municipality's 6-digit 団体コード (a prefecture's code answers None);
    ``text`` is the address after the municipality's name. The longest matching name among the
    町字 valid on ``as_of`` (today by default) wins.
    """
    if not _LG_CODE.fullmatch(lg_code or "") or lg_code[2:5] == "000" or not text:
        return None
    inputs = _without_prefix(_key(text))
    best_len = 0
    best: str | None = None
    for row in iter_towns(session, lg_codes=[lg_code], as_of=as_of):
        for name in town_keys(row):
            if len(name) > best_len and any(_fits(t, name) for t in inputs):
                best_len, best = len(name), str(row["machiaza_id"])
    return best
