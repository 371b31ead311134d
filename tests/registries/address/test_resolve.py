"""resolve_machiaza: the rest of an address (after the municipality) → a 町字 of the registry."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from tsunagu.registries.address import import_files, iter_towns, resolve_machiaza

from .conftest import ABR

FILES = [ABR / "mt_city_all.csv.zip", ABR / "mt_town_pref13.csv.zip"]
CHIYODA = "131016"


@pytest.fixture
def session(connection: Connection) -> Session:
    import_files(connection, FILES)
    return Session(bind=connection)


def machiaza_of(session: Session, lg_code: str, oaza_cho: str, chome_number: str) -> str:
    """The id iter_towns reports for a 丁目 (ABR writes 一丁目 in 千代田区, ７丁目 in 文京区)."""
    (town,) = [
        t
        for t in iter_towns(session, lg_codes=[lg_code])
        if t["oaza_cho"] == oaza_cho and t["chome_number"] == chome_number and not t["koaza"]
    ]
    return str(town["machiaza_id"])


def test_kanji_fullwidth_and_hyphenated_spellings_resolve_to_one_town(session: Session) -> None:
    marunouchi = machiaza_of(session, CHIYODA, "丸の内", "1")
    for text in ("丸の内一丁目６番６号", "丸の内１丁目6-6", "丸の内1-6-6", "丸ノ内 一丁目"):
        assert resolve_machiaza(session, CHIYODA, text) == marunouchi, text
    assert resolve_machiaza(session, CHIYODA, "丸の内二丁目７番２号") == machiaza_of(
        session, CHIYODA, "丸の内", "2"
    )


def test_fullwidth_chome_in_the_registry_matches_kanji_input(session: Session) -> None:
    bunkyo = "131059"
    assert resolve_machiaza(session, bunkyo, "本郷７丁目３－１") == machiaza_of(
        session, bunkyo, "本郷", "7"
    )
    assert resolve_machiaza(session, bunkyo, "本郷一丁目２－３") == machiaza_of(
        session, bunkyo, "本郷", "1"
    )


def test_unknown_town_wrong_municipality_and_bad_codes_answer_none(session: Session) -> None:
    assert resolve_machiaza(session, CHIYODA, "存在しない町１丁目１番") is None
    assert resolve_machiaza(session, CHIYODA, "丸の内九丁目１番") is None
    assert resolve_machiaza(session, "131041", "丸の内一丁目６番６号") is None  # 新宿区
    assert resolve_machiaza(session, "130001", "丸の内一丁目６番６号") is None  # a prefecture
    assert resolve_machiaza(session, "abc", "丸の内一丁目") is None
    assert resolve_machiaza(session, CHIYODA, "") is None


def test_as_of_before_the_town_existed_answers_none(session: Session) -> None:
    assert resolve_machiaza(session, CHIYODA, "丸の内一丁目", as_of=date(1800, 1, 1)) is None


def test_small_ke_and_large_ke_match(session: Session) -> None:
    shibuya = "131130"
    sendagaya = machiaza_of(session, shibuya, "千駄ヶ谷", "1")
    assert resolve_machiaza(session, shibuya, "千駄ケ谷１丁目１番") == sendagaya
    assert resolve_machiaza(session, shibuya, "千駄ヶ谷一丁目１番") == sendagaya
