"""Machine-readability checks (総務省 2020 rules) on the real municipal files, reviewed by hand.

Each file's findings were read against the file: e.g. yohairyosya.csv really heads column A
with '№' and writes ①–⑥ in 地域防災計画分類; kyotenbyoinlist has two title rows, a note row
below, '令和4年1月1日現在', blank 二次保健医療圏 cells that repeat the value above and
'1,075' in 病床数; machinakasuzumidokoro writes '―' for a missing 施設管理者名; onsen.csv lost
'−' in '1812?3'. Values are cut at 24 characters.
"""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import SHARED
from tsunagu.catalog.quality import (
    FileTooLarge,
    Finding,
    MacroWorkbook,
    UnknownEncoding,
    UnreadableFile,
    check_file,
    rules,
)
from tsunagu.catalog.quality.cells import era_dates, normalize_date, western
from tsunagu.catalog.quality.tables import detect_encoding

SAMPLES = SHARED / "jp-open-data-samples"
IMI = SAMPLES / "imi-enrichment-date-spec"

EXPECTED_CSV: dict[str, list[tuple[str, str, str, int | None, int, str]]] = {
    "tablelinker-lib-samples/hachijo_sightseeing.csv": [
        ('1-5', 'line-break', 'F', 10, 4, '八丈島内で発見された先史時代の遺跡の展示や八丈島'),
        ('1-10', 'lost-char', 'B', 17, 1, '東京都八丈島八丈町中之郷3201?2'),
        ('1-11', 'era-date', 'F', 2, 6, '平成元年'),
    ],
    "tablelinker-lib-samples/katsushika_tourism.csv": [
    ],
    "tablelinker-lib-samples/kyotenbyoinlist20220101.csv": [
        ('1-3', 'thousands', 'F', 8, 8, '1,075'),
        ('1-5', 'line-break', 'G', 3, 1, '三次⏎救急'),
        ('1-6', 'blank-header', 'B', 3, 12, ''),
        ('1-6', 'ditto', 'A', 5, 73, '（空欄）'),
        ('1-11', 'era-date', 'F', 2, 1, '令和4年1月1日'),
        ('2-2', 'above-table', '', 1, 1, '東京都災害拠点病院一覧'),
        ('2-2', 'above-table', '', 2, 1, '令和4年1月1日現在'),
        ('2-2', 'below-table', '', 90, 1, '★印は広域基幹災害拠点病院、☆印は地域災害拠点中'),
    ],
    "tablelinker-lib-samples/ma030000.csv": [
        ('1-2', 'multiple-values', 'A', 11, 68, '01 北海道'),
        ('1-5', 'edge-space', 'A', 4, 2, '\u3000\u3000１）\u3000都道府県別の表章は出生は子の住所、死亡'),  # noqa: E501
        ('1-5', 'spaced-letters', 'G', 7, 1, '自\u3000然'),
        ('1-5', 'spaced-letters', 'A', 10, 3, '全\u3000国'),
        ('1-6', 'multi-row-header', '', 7, 1, '乳児死亡数 / 新生児 / 増減数 / 総数'),
        ('1-6', 'blank-header', 'A', 7, 71, ''),
        ('1-9', 'no-unit', 'B', 7, 1, ''),
        ('1-9', 'no-unit', 'I', 7, 1, ''),
        ('1-9', 'no-unit', 'J', 7, 1, ''),
        ('1-9', 'no-unit', 'L', 7, 1, ''),
        ('1-9', 'no-unit', 'M', 7, 1, ''),
        ('1-11', 'era-date', 'A', 1, 2, '令和2年'),
        ('2-2', 'above-table', '', 1, 1, '令和２年'),
        ('2-2', 'above-table', '', 2, 1, '上巻\u3000総覧\u3000第３．３表－１\u3000都道府県（特別区－指'),  # noqa: E501
        ('2-2', 'above-table', '', 4, 1, '１）\u3000都道府県別の表章は出生は子の住所、死亡は死'),
        ('2-2', 'above-table', '', 5, 1, '２）\u3000都道府県、特別区－指定都市人口については、'),
    ],
    "tablelinker-lib-samples/onsen.csv": [
        ('1-5', 'edge-space', 'C', 2, 7, '33.075843 '),
        ('1-5', 'edge-space', 'D', 2, 7, '139.790328 '),
        ('1-5', 'edge-space', 'A', 7, 2, '末吉温泉「みはらしの湯」 '),
        ('1-10', 'lost-char', 'B', 2, 1, '東京都八丈島八丈町樫立1812?3'),
    ],
    "tablelinker-lib-samples/shimabara_tourism.csv": [
        ('1-5', 'line-break', 'R', 2, 5, '【入館料】大人550円、子供280円\u3000※団体割引'),
        ('1-5', 'line-break', 'U', 2, 26, '島原鉄道\u3000島原駅から⏎徒歩10分'),
        ('1-5', 'line-break', 'X', 2, 20, '（株）島原観光ビューロー⏎（島原城）'),
        ('1-5', 'line-break', 'P', 14, 2, '【ゆとろぎの湯】受付時間は20:30まで⏎【ゆと'),
        ('1-5', 'line-break', 'V', 23, 1, '駐車スペース133台（島原港）※１時間無料⏎スタ'),
        ('1-5', 'edge-space', 'S', 27, 1, '島原市でも有数の桜の名所で、桜の季節になると多く'),
        ('1-5', 'edge-space', 'I', 28, 1, '長崎県島原市秩父が浦町丁3543-29 '),
        ('1-10', 'platform-char', 'S', 26, 1, '㎡'),
        ('1-11', 'era-date', 'R', 9, 1, '令和3年7月'),
        ('1-11', 'era-date', 'S', 10, 3, '平成28年8月'),
    ],
    "tablelinker-lib-samples/yanai_tourism.csv": [
        ('1-5', 'line-break', 'S', 2, 1, '中世の町割りがそのまま今日も生きており、約200'),
        ('1-5', 'edge-space', 'S', 9, 2, ' この建物は、周防銀行本店として明治40年（19'),
        ('1-5', 'edge-space', 'R', 17, 1, ' 大人200円。高校生以下無料。15名以上で団体'),
        ('1-11', 'era-date', 'S', 2, 5, '昭和59年'),
    ],
    "tablelinker-lib-samples/【さいたま市】AED設置場所一覧.csv": [
    ],
    "yaizu-city/222127_aed.csv": [
        ('1-5', 'edge-space', 'G', 56, 2, '静岡県焼津市宗高88  '),
    ],
    "yaizu-city/222127_evacuation_space.csv": [
    ],
    "yaizu-city/222127_hinannjo.csv": [
        ('1-13', 'missing-dash', 'P', 12, 8, 'ー'),
    ],
    "yaizu-city/222127_preschool.csv": [
        ('1-3', 'unit-in-cell', 'U', 2, 60, '4歳から'),
        ('1-5', 'edge-space', 'H', 6, 13, '静岡県焼津市宗高88  '),
        ('1-5', 'edge-space', 'P', 9, 9, '(054)629-3520 '),
        ('1-5', 'edge-space', 'N', 22, 8, '(054)622-7420 '),
    ],
    "yaizu-city/222127_public_toilet.csv": [
    ],
    "yaizu-city/222127_public_wireless_lan.csv": [
        ('1-5', 'edge-space', 'H', 7, 1, '静岡県焼津市田尻2968-1 '),
    ],
    "yaizu-city/222127_tourism.csv": [
        ('1-3', 'unit-in-cell', 'AH', 2, 60, '40人'),
        ('1-5', 'line-break', 'S', 3, 11, '地魚と産地直送の寿司ネタを吟味。⏎極上南鮪もご賞'),
        ('1-5', 'edge-space', 'V', 3, 10, '普9台/大型可\u3000'),
        ('1-5', 'edge-space', 'P', 5, 11, '11:00～14:00（LO.13:45）/17'),
        ('1-5', 'edge-space', 'S', 6, 5, '旧焼津港近（サンライフ焼津隣）。刺身類に自信を持'),
        ('1-5', 'line-break', 'P', 28, 2, 'ランチ 11:30～14:30（LO.14:00'),
        ('1-5', 'line-break', 'V', 41, 1, '無し⏎花沢の里駐車場をご利用下さい。'),
        ('1-5', 'edge-space', 'Y', 42, 4, '054-639-5300 '),
        ('1-5', 'edge-space', 'AF', 64, 1, 'その他\t'),
        ('1-5', 'edge-space', 'I', 65, 3, '静岡県焼津市中港3-1-16\u3000焼津PORTERS'),
        ('1-5', 'edge-space', 'AO', 76, 2, ' ※うみえ～るに準ずる'),
        ('1-5', 'edge-space', 'E', 79, 6, '静岡県水産・海洋技術研究所展示室「うみしる」\u3000'),
        ('1-5', 'edge-space', 'AG', 87, 2, '水曜・日曜・祝日・夏季・年末年始\u3000'),
        ('1-5', 'edge-space', 'R', 91, 6, '大人300円・小人200円 '),
        ('1-5', 'edge-space', 'X', 105, 1, '（事務局\u3000（一社）焼津市観光協会内）\u3000'),
        ('1-6', 'blank-header', 'AX', 1, 1, ''),
        ('1-10', 'lost-char', 'P', 3, 7, '11:00?13:30 ※日曜ランチはなし/17'),
        ('1-10', 'lost-char', 'I', 38, 2, '静岡県焼津市本町2?16?45'),
        ('1-10', 'lost-char', 'S', 91, 1, 'カッパのコレクション数 世界一ギネス認定！手作り'),
        ('1-10', 'platform-char', 'S', 94, 1, '﨑'),
        ('1-10', 'platform-char', 'E', 121, 1, '銈'),
        ('1-11', 'era-date', 'S', 23, 3, '昭和42年'),
    ],
    "yaizu-city/machinakasuzumidokoro.csv": [
        ('1-5', 'edge-space', 'AC', 1, 1, '公共施設\u3000'),
        ('1-5', 'edge-space', 'AD', 1, 1, '施設の種類\u3000'),
        ('1-5', 'edge-space', 'D', 52, 1, ' 焼津市観光協会'),
        ('1-5', 'edge-space', 'V', 102, 1, ' 臨時休業する場合もあります'),
        ('1-13', 'missing-dash', 'X', 52, 58, '―'),
    ],
    "yaizu-city/yohairyosya.csv": [
        ('1-5', 'edge-space', 'B', 5, 2, 'ユースタイルホーム 焼津 共同生活援助 '),
        ('1-5', 'line-break', 'G', 5, 36, '共同生活援助⏎短期入所'),
        ('1-5', 'edge-space', 'E', 6, 1, '焼津市中根新田６１３番地の１ '),
        ('1-10', 'platform-char', 'A', 1, 1, '№'),
        ('1-10', 'platform-char', 'I', 2, 277, '① ④ ② ⑥ ⑤ ③'),
        ('1-10', 'platform-char', 'E', 244, 1, 'Ⅱ'),
        ('1-10', 'platform-char', 'B', 245, 1, 'Ⅰ Ⅱ'),
    ],
}  # fmt: skip


def _check(path: Path, **kwargs: int) -> list:  # type: ignore[type-arg]
    with path.open("rb") as body:
        return check_file(body, path.name, **kwargs).findings


@pytest.mark.parametrize("name", sorted(EXPECTED_CSV))
def test_findings_of_the_real_csv_files(name: str) -> None:
    findings = _check(SAMPLES / name)
    got = [(f.rule, f.kind, f.column, f.row, f.count, f.value[:24]) for f in findings]
    assert got == EXPECTED_CSV[name]
    for finding in findings:
        assert finding.rule in rules()
        assert finding.message("ja") and finding.message("en") and finding.fix("en")


def test_encodings_of_the_real_files() -> None:
    def encoding(name: str) -> str:
        with (SAMPLES / name).open("rb") as body:
            return check_file(body, name).encoding

    assert encoding("yaizu-city/yohairyosya.csv") == "cp932"
    assert encoding("tablelinker-lib-samples/kyotenbyoinlist20220101.csv") == "cp932"
    assert encoding("yaizu-city/222127_tourism.csv") == "utf-8-sig"
    assert encoding("yaizu-city/222127_aed.csv") == "utf-8"


def test_suggestions_name_the_concrete_fix() -> None:
    findings = _check(SAMPLES / "yaizu-city/yohairyosya.csv")
    circled = next(f for f in findings if f.column == "I" and f.kind == "platform-char")
    assert "① → (1)" in circled.suggestion and "⑥ → (6)" in circled.suggestion
    assert next(f for f in findings if f.column == "A").suggestion == "№ → No."
    hospitals = _check(SAMPLES / "tablelinker-lib-samples/kyotenbyoinlist20220101.csv")
    assert [f.suggestion for f in hospitals if f.kind == "era-date"] == ["2022-01-01"]
    assert [f.suggestion for f in hospitals if f.kind == "thousands"] == ["1075"]
    assert hospitals[0].where() == "column F (病床数), row 8"


def test_r2_xlsx_title_merged_footer_drawing_and_marks() -> None:
    findings = _check(SAMPLES / "soumu-xlsx/R2.xlsx")
    sheet = "全市町村の主要財政指標 "
    assert {f.sheet for f in findings} == {sheet}
    got = [(f.rule, f.kind, f.column, f.row, f.value, f.suggestion) for f in findings]
    assert got == [
        ("1-4", "merged", "A", 1744, "A1744:C1744", ""),
        ("1-8", "objects", "", None, "", ""),
        ("1-11", "era-date", "A", 1, "令和2年", "2020年"),
        ("1-12", "bad-area-code", "A", 1744, "全国市町村平均", ""),
        ("1-13", "mark", "H", 1744, "－", "-"),
        ("2-2", "above-table", "", 1, "全市町村の主要財政指標（令和２年度）", ""),
    ]


def test_r2_loss_lists_every_merged_range() -> None:
    findings = _check(SAMPLES / "soumu-xlsx/R2_loss.xlsx")
    merged = [f for f in findings if f.rule == "1-4"]
    survey, table = "調査票Ｂ（控除額・ワンストップ特例制度）", "集計表"
    assert sum(f.count for f in merged if f.sheet == survey) == 66
    assert sum(f.count for f in merged if f.sheet == table) == 117
    assert ("A1:J1", 1, "A") in {(f.value, f.row, f.column) for f in merged if f.sheet == survey}
    assert ("C13:AZ13", 13, "C") in {(f.value, f.row, f.column) for f in merged if f.sheet == table}
    assert any(f.kind == "objects" and f.sheet == survey for f in findings)
    assert any(f.kind == "multi-row-header" and f.sheet == table for f in findings)


def test_total_gain_two_level_header_and_units_in_the_title() -> None:
    findings = _check(SAMPLES / "soumu-xlsx/total_gain.xlsx")
    kinds = [(f.rule, f.kind, f.column, f.row) for f in findings]
    assert ("1-6", "multi-row-header", "", 2) in kinds
    assert ("2-1", "blank-row", "", 3) in kinds
    assert ("2-2", "above-table", "", 1) in kinds
    eras = {f.column: (f.value, f.suggestion) for f in findings if f.kind == "era-date"}
    assert eras["C"] == ("平成20年", "2008年") and eras["Y"] == ("令和元年", "2019年")
    assert len(eras) == 13
    # （単位：千円、件） above the table states the units: no 1-9 finding.
    assert not [f for f in findings if f.rule == "1-9"]


def test_xlsx_and_csv_of_the_same_data_agree() -> None:
    as_csv = _check(SAMPLES / "tablelinker-lib-samples/yanai_tourism.csv")
    as_xlsx = _check(SAMPLES / "tablelinker-lib-samples/2311.xlsx")
    assert [(f.kind, f.column, f.row, f.count) for f in as_csv] == [
        (f.kind, f.column, f.row, f.count) for f in as_xlsx
    ]


def _cases(name: str) -> list[tuple[str, str | None]]:
    """(表記, 標準型日付) of every vector with one notation and no 標準型日付 given."""
    out = []
    for case in json.loads((IMI / name).read_text(encoding="utf-8")):
        given, expected = case["input"], case["output"]
        if isinstance(given, list):
            given, expected = given[0], expected[0]
        if isinstance(given, dict):
            if "標準型日付" in given:
                continue
            given = given.get("表記")
        if isinstance(given, str):
            out.append((given, expected.get("標準型日付")))
    return out


@pytest.mark.parametrize(("text", "iso"), _cases("002-normalize.json") + _cases("001-io.json")
                         + _cases("003-misc.json"))  # fmt: skip
def test_imi_date_normalization_vectors(text: str, iso: str | None) -> None:
    assert normalize_date(text) == iso


def test_era_dates_need_a_western_year_beside_them() -> None:
    assert era_dates("令和4年1月1日現在") == ["令和4年1月1日"]
    assert era_dates("1618年（元和4年）に築城") == []
    assert era_dates("明治40年（1907年）に建築") == []
    assert era_dates("江東区有明3-8-31") == []  # 明 in a place name is no era
    assert western("令和3年7月") == "2021年7月"


def _xlsx(build) -> io.BytesIO:  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    build(wb.active)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def test_xlsx_formulas_merges_and_numbers_with_units() -> None:
    def build(ws) -> None:  # type: ignore[no-untyped-def]
        ws.append(["市区町村名", "人口", "面積（㎢）", "合計"])
        ws.append(["焼津市", "136,000人", 70.31, "=B2+C2"])
        ws.append(["藤枝市", "▲12", 194.06, "=B3+C3"])
        ws.merge_cells("A5:B5")

    findings = check_file(_xlsx(build), "t.xlsx").findings
    got = {(f.rule, f.kind, f.column, f.row, f.value) for f in findings}
    assert ("1-7", "formula", "D", 2, "D2") in got
    assert ("1-4", "merged", "A", 5, "A5:B5") in got
    assert ("1-3", "thousands", "B", 2, "136,000人") not in got
    units = [f for f in findings if f.kind == "unit-in-cell"]
    assert [(f.value, f.suggestion) for f in units] == [("136,000人", "136000")]
    assert [(f.value, f.suggestion) for f in findings if f.kind == "triangle"] == [("▲12", "-12")]
    assert next(f for f in findings if f.kind == "formula").count == 2


def test_short_prefecture_names_and_bad_area_codes() -> None:
    body = "団体コード,都道府県名,人口（人）\n131016,東京,100\n131017,東京都,200\n".encode()
    findings = check_file(io.BytesIO(body), "a.csv").findings
    got = {(f.kind, f.value, f.suggestion) for f in findings}
    assert ("prefecture-name", "東京", "東京都") in got
    assert ("bad-area-code", "131017", "") in got
    assert not any(f.value == "131016" for f in findings)


# ---- bad input ------------------------------------------------------------------------------


def test_broken_zip_is_a_clear_error() -> None:
    data = (SAMPLES / "tablelinker-lib-samples/2311.xlsx").read_bytes()
    with pytest.raises(UnreadableFile, match="zip is broken"):
        check_file(io.BytesIO(data[:4000]), "cut.xlsx")


def test_workbook_with_macros_is_refused_unopened() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/vbaProject.bin", b"\x00" * 64)
    with pytest.raises(MacroWorkbook, match="VBA macros"):
        check_file(out, "m.xlsm")


def test_legacy_xls_and_other_zips_are_named() -> None:
    with (
        (SAMPLES / "soumu-xlsx/H17.xls").open("rb") as body,
        pytest.raises(UnreadableFile, match="legacy Excel"),
    ):
        check_file(body, "H17.xls")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(UnreadableFile, match="not an XLSX workbook"):
        check_file(out, "x.zip")


def test_unknown_encoding_and_binary_data() -> None:
    latin = "nom,prénom,âge\nÉlodie,Zoë,30\n".encode("cp1252") * 20
    with pytest.raises(UnknownEncoding, match="save it as UTF-8"):
        check_file(io.BytesIO(latin), "fr.csv")
    with pytest.raises(UnreadableFile, match="NUL bytes"):
        check_file(io.BytesIO(b"a,b\n\x00\x01,2\n"), "bin.csv")
    with pytest.raises(UnreadableFile, match="empty"):
        check_file(io.BytesIO(b""), "empty.csv")


def test_detects_euc_jp() -> None:
    assert detect_encoding("名称,住所\n焼津市役所,本町\n".encode("euc_jp")) == "euc_jp"


def test_too_large_files_and_zip_bombs_are_refused() -> None:
    with pytest.raises(FileTooLarge, match="over the 1,024-byte limit"):
        check_file(io.BytesIO(b"a,b\n" * 1000), "big.csv", max_bytes=1024)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * 5_000_000)
    assert len(out.getvalue()) < 100_000
    with pytest.raises(FileTooLarge, match="expands to"):
        check_file(out, "bomb.xlsx", max_bytes=100_000)


def _peak(rows: int) -> tuple[int, list[Finding]]:
    lines = "".join(f"{i},焼津市{i},{i * 3}人,令和4年1月{i % 28 + 1}日\n" for i in range(rows))
    body = io.BytesIO(("番号,名称,人数,日付\n" + lines).encode("utf-8"))
    tracemalloc.start()
    findings = check_file(body, "long.csv").findings
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, findings


def test_memory_stays_bounded_on_a_long_file() -> None:
    _peak(100)  # imports and caches first
    small, _ = _peak(10_000)  # past the 256 KB encoding sample already
    large, findings = _peak(50_000)
    assert {f.kind for f in findings} >= {"unit-in-cell", "era-date"}
    assert next(f for f in findings if f.kind == "unit-in-cell").count == 50_000
    # Five times the rows (about 2.5 MB of CSV): the peak stays where it was.
    assert large < small * 1.25 + 256 * 1024


def test_an_entity_expansion_bomb_in_a_sheet_is_a_clear_error() -> None:
    """A sheet whose entities expand to a billion characters ("billion laughs"): the parser's
    amplification limit stops it, and the check says the file is unreadable — a harvested
    file is untrusted input."""
    plain = _xlsx(lambda ws: ws.append(["名称", "人口"]))
    entities = "".join(['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ])  # fmt: skip
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(out, "w") as archive:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode("utf-8")
                head, _, rest = text.partition("<worksheet")
                text = f"{head}<!DOCTYPE worksheet [{entities}]><worksheet{rest}"
                data = text.replace("<sheetData>", "<sheetData><!--&lol9;-->", 1).replace(
                    "</sheetData>", '<row r="9"><c r="A9" t="inlineStr"><is><t>&lol9;</t></is>'
                    "</c></row></sheetData>", 1,
                ).encode("utf-8")  # fmt: skip
            archive.writestr(item, data)
    out.seek(0)
    with pytest.raises(UnreadableFile, match="amplification"):
        check_file(out, "laughs.xlsx")
