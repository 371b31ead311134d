"""The normalizer's folding rules, and its invariants as Hypothesis properties."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsunagu.registries.address.geocoder.normalize import clean, fold, fold_with_map, kanji_to_int

address_text = st.text(
    alphabet=st.sampled_from(
        list("東京都千代田区紀尾井町一二三十百丁目番地号のノ之ケヶがガ﨑崎髙高邊辺 -－‐ー―")
        + list("0123456789０１２３４５６７８９ＡＢab　\t")
    ),
    max_size=40,
)


@given(address_text)
def test_fold_is_idempotent(text: str) -> None:
    once = fold(clean(text))
    assert fold(clean(once)) == once


@given(address_text)
def test_fold_ignores_width(text: str) -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    assert fold(clean(wide)) == fold(clean(text))


@given(st.text(max_size=60))
def test_clean_never_fails_and_leaves_no_control_characters(text: str) -> None:
    cleaned = clean(text)
    assert not any(unicodedata.category(c) == "Cc" for c in cleaned)
    key, offsets = fold_with_map(cleaned)
    assert len(offsets) == len(key) + 1


def _to_kanji(value: int) -> str:
    digits = "〇一二三四五六七八九"
    out = ""
    for unit, name in ((1000, "千"), (100, "百"), (10, "十")):
        count, value = divmod(value, unit)
        if count:
            out += ("" if count == 1 else digits[count]) + name
    return out + (digits[value] if value else "")


@given(st.integers(min_value=1, max_value=9999))
def test_kanji_numerals_round_trip(value: int) -> None:
    assert kanji_to_int(_to_kanji(value)) == value


@pytest.mark.parametrize(
    ("written", "value"),
    [("二", 2), ("十二", 12), ("二十", 20), ("百二十三", 123), ("千二", 1002), ("一〇五", 105)],
)
def test_kanji_numerals(written: str, value: int) -> None:
    assert kanji_to_int(written) == value


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("二丁目", "2丁目"),
        ("２丁目", "2丁目"),
        ("１－２－３", "1-2-3"),
        ("1‐2―3", "1-2-3"),
        ("1ー2", "1-2"),
        ("﨑", "崎"),
        ("髙", "高"),
        ("邊", "辺"),
        ("澤", "沢"),
        ("関ヶ原", "関ケ原"),
        ("ひばりが丘", "ひばりケ丘"),
        ("山之内", "山ノ内"),
        ("葛󠄀飾", "葛飾"),
        ("紀尾井町　1", "紀尾井町1"),
    ],
)
def test_spellings_fold_to_one_key(a: str, b: str) -> None:
    assert fold(clean(a)) == fold(clean(b))


def test_long_vowel_mark_stays_in_names() -> None:
    assert fold(clean("流通センター")) == "流通センター"


@pytest.mark.parametrize("text", ["0 ー0", "0ー 0", "一 ー 二"])
def test_long_vowel_between_numbers_is_a_hyphen_even_with_spaces(text: str) -> None:
    once = fold(clean(text))
    assert "-" in once and fold(clean(once)) == once


def test_a_run_of_replacement_characters_is_one_wildcard() -> None:
    assert clean("群馬県\ufffd\ufffd川市") == "群馬県?川市"
    assert clean("\ufffd") == "?"
