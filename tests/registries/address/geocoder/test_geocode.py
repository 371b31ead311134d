"""Geocoding against the real ABR files: each writing style, levels, output, bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tsunagu.registries.address.geocoder import AddressIndex, Geocoder, build_index
from tsunagu.registries.address.geocoder.source import Row

KIOI = {"lg_code": "131016", "machiaza_id": "0056000", "oaza_cho": "紀尾井町"}
HONKOMAGOME = {"lg_code": "131059", "oaza_cho": "本駒込", "blk_num": "28", "rsdt_num": "16"}


@pytest.mark.parametrize(
    "written",
    [
        "東京都文京区本駒込2丁目28番16号",
        "東京都文京区本駒込二丁目二十八番十六号",
        "東京都文京区本駒込２－２８－１６",
        "東京都文京区本駒込2-28-16",
        "東京都文京区本駒込２ー２８ー１６",
        "東京都文京区本駒込2‐28‐16",
        "文京区本駒込2-28-16",
        "東京都 文京区 本駒込 2-28-16",
        "東京都文京区本駒込2丁目28-16",
    ],
)
def test_every_writing_of_one_residence_matches_it(geocoder: Geocoder, written: str) -> None:
    result = geocoder.geocode(written)
    assert result.match_level == "residential_detail"
    assert {k: getattr(result, k) for k in HONKOMAGOME} == HONKOMAGOME
    assert result.chome == "二丁目" or result.chome == "２丁目" or result.chome
    assert result.others == []


def test_building_names_and_rooms_are_kept_in_others(geocoder: Geocoder) -> None:
    result = geocoder.geocode("和歌山県和歌山市葵町1-2　葵ビル 302号室")
    assert result.match_level == "residential_detail"
    assert result.others == ["葵ビル 302号室"]
    assert result.output == "和歌山県和歌山市葵町1-2 葵ビル 302号室"


def test_town_without_residence_data_stops_at_machiaza(geocoder: Geocoder) -> None:
    result = geocoder.geocode("東京都千代田区紀尾井町1-3")
    assert result.match_level == "machiaza"
    assert {k: getattr(result, k) for k in KIOI} == KIOI
    assert result.others == ["1-3"]


def test_parcels_in_yakushima(geocoder: Geocoder) -> None:
    result = geocoder.geocode("鹿児島県熊毛郡屋久島町安房1番地")
    assert result.match_level == "parcel"
    assert result.prc_id == "000010000000000"
    assert result.prc_num1 == "1"


def test_parcel_target_skips_residences(geocoder: Geocoder) -> None:
    result = geocoder.geocode("和歌山市葵町1-2", target="residential")
    assert result.match_level == "residential_detail"
    result = geocoder.geocode("和歌山市葵町1-2", target="parcel")
    assert result.match_level == "machiaza"


@pytest.mark.parametrize(
    ("written", "city", "town"),
    [
        ("北海道ニセコ町字富士見55番地", "ニセコ町", "富士見"),  # 郡 omitted
        ("京都府与謝郡伊根町日出651", "伊根町", "日出"),  # 字 omitted
        ("岐阜県不破郡関ｹ原町関ヶ原3132-3", "関ケ原町", "関ケ原"),  # ケ/ヶ, half-width
        ("大阪府茨木市平田1-8-20", "茨木市", "平田"),  # 丁目 hyphenated
        ("京都府京都市東山区本町22丁目742", "京都市", "本町"),
        ("伏見区淀美豆町1244", "京都市", "淀美豆町"),  # 京都市 and 京都府 omitted
        ("京都府京都市上京区烏丸通上立売上る相国寺門前町647", "京都市", "相国寺門前町"),
        ("北海道札幌市西区八軒７条東１丁目１－１", "札幌市", "八軒七条東"),
        ("神奈川県鎌倉市山之内189", "鎌倉市", "山ノ内"),
        ("新潟県小千谷市大字籔川41", "小千谷市", "薮川"),
    ],
)
def test_variant_styles_reach_the_town(
    geocoder: Geocoder, written: str, city: str, town: str
) -> None:
    result = geocoder.geocode(written)
    assert result.city == city
    assert (result.oaza_cho or result.koaza or "").replace("大字", "").replace("藪", "薮") in (
        town,
        town.replace("薮", "藪"),
    ) or town in (result.oaza_cho or "") + (result.koaza or "")


def test_chome_written_either_way_matches_either_abr_spelling(geocoder: Geocoder) -> None:
    # 中央区 writes 丁目 as "１丁目" in ABR, 千代田区 as "一丁目"
    chuo = geocoder.geocode("東京都中央区銀座一丁目1")
    chiyoda = geocoder.geocode("東京都千代田区内幸町1丁目1")
    assert chuo.lg_code == "131024" and chuo.chome and chuo.machiaza_id == "0004001"
    assert chiyoda.lg_code == "131016" and chiyoda.machiaza_id == "0001001"


def test_ambiguous_city_gives_a_lower_level_not_a_wrong_one(geocoder: Geocoder) -> None:
    result = geocoder.geocode("府中市")  # 東京都 and 広島県 both have one
    assert result.match_level == "unknown"
    assert result.lg_code is None
    tokyo = geocoder.geocode("東京都府中市")
    assert tokyo.match_level == "city" and tokyo.lg_code == "132063"


def test_city_level_keeps_the_rest(geocoder: Geocoder) -> None:
    result = geocoder.geocode("千代田区")
    assert result.match_level == "city"
    assert result.output == "東京都千代田区"
    assert result.others == []


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "\x00\x01\x02",
        "😀🏠",
        "hello world",
        "1600 Pennsylvania Ave",
        "x" * 10_240,
        "東京都" * 3000,
        "\ufeff\u200b",
        "-----",
        "番地番地番地",
    ],
)
def test_bad_input_gives_a_result_never_an_error(geocoder: Geocoder, bad: str) -> None:
    result = geocoder.geocode(bad)
    assert result.match_level in ("unknown", "prefecture")
    assert result.input == bad


def test_unknown_target_is_an_error(geocoder: Geocoder) -> None:
    with pytest.raises(ValueError, match="target"):
        geocoder.geocode("東京都", target="everything")


def test_a_garbled_character_stands_for_any_one_character(geocoder: Geocoder) -> None:
    # U+FFFD (a character lost in decoding) matches one character of a name, as abr-geocoder's
    # fuzzy "?" does: 渋 here, 紀 in the second address.
    result = geocoder.geocode("群馬県\ufffd\ufffd川市渋川７７８番地")
    assert (result.city, result.oaza_cho, result.machiaza_id) == ("渋川市", "渋川", "0031000")
    assert result.output == "群馬県渋川市渋川778"
    assert result.others == ["778"]
    result = geocoder.geocode("東京都千代田区\ufffd尾井町1-3")
    assert (result.oaza_cho, result.others) == ("紀尾井町", ["1-3"])


def test_a_garbled_character_does_not_pick_one_of_several_names(geocoder: Geocoder) -> None:
    result = geocoder.geocode("千葉県\ufffd川市")  # 市川市 and 鴨川市 both fit
    assert result.match_level == "prefecture"
    assert result.lg_code is None


@pytest.mark.parametrize(
    ("written", "others", "output"),
    [
        # a 字 marker before an unknown 小字 goes; 番地の between numbers is a hyphen
        (
            "千葉県山武郡横芝光町横芝字真砂４８２番地の２",
            ["真砂482-2"],
            "千葉県山武郡横芝光町横芝真砂482-2",
        ),
        # a room after the house number is set apart by a space, and 号室 keeps its 号
        (
            "札幌市中央区南２条西１ー５2ー302号室",
            ["52 302号室"],
            "北海道札幌市中央区南二条西一丁目52 302号室",
        ),
        ("札幌市中央区南２条西１ー５3ー2A", ["53 2A"], "北海道札幌市中央区南二条西一丁目53 2A"),
        ("和歌山県和歌山市葵町1-2-302号室", ["302号室"], "和歌山県和歌山市葵町1-2 302号室"),
        # a unit that ends the address goes, a building word after it stays
        ("久太郎町４丁目渡辺3号", ["渡辺3"], "大阪府大阪市中央区久太郎町四丁目渡辺3"),
        (
            "大阪市天王寺区堀越町アベノ地下街8号",
            ["アベノ地下街8"],
            "大阪府大阪市天王寺区堀越町アベノ地下街8",
        ),
        ("東京都千代田区紀尾井町1-3-2号棟", ["1-3-2号棟"], "東京都千代田区紀尾井町1-3-2号棟"),
        ("東京都千代田区紀尾井町3番地の5 1番館", ["3-5 1番館"], "東京都千代田区紀尾井町3-5 1番館"),
        (
            "東京都千代田区紀尾井町1番1号おはようビル301号室",
            ["1-1おはようビル301号室"],
            "東京都千代田区紀尾井町1-1おはようビル301号室",
        ),
        ("和歌山県和歌山市7番町19", ["7番町19"], "和歌山県和歌山市7番町19"),
    ],
)
def test_leftover_text_is_written_as_abr_geocoder_writes_it(
    geocoder: Geocoder, written: str, others: list[str], output: str
) -> None:
    result = geocoder.geocode(written)
    assert (result.others, result.output) == (others, output)


@pytest.mark.parametrize(
    ("written", "field", "name"),
    [
        ("盛岡市飯岡新田４地割１００１", "koaza", "4地割"),  # ABR: ４地割
        ("岩手県八幡平市大更第35地割", "koaza", "第35地割"),  # ABR: 第３５地割
        (
            "福井県大野市上麻生島下麻生島上野田野土打川島下唯野1字",
            "oaza_cho",
            "上麻生島下麻生島上野田野土打川島下唯野1字",  # ABR: …唯野１字
        ),
    ],
)
def test_town_names_print_ascii_digits(
    geocoder: Geocoder, written: str, field: str, name: str
) -> None:
    result = geocoder.geocode(written)
    assert getattr(result, field) == name
    assert name in result.output


def test_kyoto_answers_are_numbered_by_chiban(geocoder: Geocoder, abr_index: AddressIndex) -> None:
    # 御陵大枝山町二丁目 is a 住居表示 町字 in the town master; abr-geocoder still reports 0 for
    # every 京都市 address, and a 住居表示 町字 elsewhere keeps 1.
    node = abr_index.towns["261114"].keys["御陵大枝山町2丁目"]
    assert node.base is not None and node.base.rsdt_addr_flg == 1
    assert geocoder.geocode("西京区御陵大枝山町二丁目1-52").rsdt_addr_flg == 0
    assert geocoder.geocode("東京都千代田区紀尾井町1-3").rsdt_addr_flg == 1


class _TinySource:
    """One 住居表示 町字 that also has 地番 rows (ABR has such towns)."""

    def version(self) -> str:
        return "tiny"

    def iter_prefectures(self) -> Iterator[Row]:
        yield {"pref": "東京都"}

    def iter_municipalities(self) -> Iterator[Row]:
        yield {"lg_code": "131024", "pref": "東京都", "city": "中央区"}

    def iter_towns(self) -> Iterator[Row]:
        yield {
            "lg_code": "131024", "machiaza_id": "0004003", "oaza_cho": "銀座", "chome": "３丁目",
            "rsdt_addr_flg": "1",
        }  # fmt: skip

    def iter_blocks(self) -> Iterator[Row]:
        return iter(())

    def iter_residences(self) -> Iterator[Row]:
        return iter(())

    def iter_parcels(self) -> Iterator[Row]:
        yield {
            "lg_code": "131024", "machiaza_id": "0004003", "prc_id": "000040000100000",
            "prc_num1": "4", "prc_num2": "1",
        }  # fmt: skip


def test_a_parcel_answer_is_numbered_by_chiban() -> None:
    geocoder = Geocoder(build_index(_TinySource()))
    result = geocoder.geocode("東京都中央区銀座3-4-1", target="parcel")
    assert (result.match_level, result.prc_id) == ("parcel", "000040000100000")
    assert result.rsdt_addr_flg == 0
    assert result.chome == "3丁目"
    assert geocoder.geocode("東京都中央区銀座3").rsdt_addr_flg == 1
