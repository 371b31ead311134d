"""Importing the NTA's real sample files and gBizINFO answers: history, bad rows, idempotence."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.db import OutboxEvent, events_for
from tsunagu.registries.corporations import (
    ImportProblem,
    as_of,
    history,
    import_file,
    search_by_name,
)
from tsunagu.registries.corporations.models import (
    CorporationImport,
    CorporationRecord,
    CorporationRejectedRow,
)
from tsunagu.registries.corporations.nta import FIELDS

NTA = SHARED / "corporate-number" / "nta-webapi-v4-samples"
GBIZ = SHARED / "corporate-number" / "gbizinfo-v2"
HEADER = "2024-04-01,3,1,1\n"
GOOD = (
    '1,7010001008844,01,0,2018-05-11,2015-10-05,"株式会社日立製作所",,301,"東京都",'
    '"千代田区","丸の内１丁目６番６号",,13,101,1000005,,,,,,,2015-10-05,1,,,,,'
    '"ヒタチセイサクショ",0\n'
)


def load(session: Session, path: Path) -> object:
    return import_file(session, path.read_bytes(), path.name)


def test_shift_jis_and_unicode_csv_and_xml_give_the_same_rows(session: Session) -> None:
    sjis = import_file(session, (NTA / "num_0_ver4_c2.csv").read_bytes(), "c2")
    utf8 = import_file(session, (NTA / "num_0_ver4_c4.csv").read_bytes(), "c4")
    xml = import_file(session, (NTA / "num_0_ver4_x4.xml").read_bytes(), "x4")
    formats = (sjis.file_format, utf8.file_format, xml.file_format)
    assert formats == ("csv-sjis", "csv-unicode", "xml")
    assert (sjis.inserted, utf8.unchanged, xml.unchanged) == (1, 1, 1)
    rec = as_of(session, "5111101000006")
    assert rec.name == "株式会社検索対象除外" and rec.lg_code == "131016" and rec.hihyoji


def test_name_file_in_both_layouts(session: Session) -> None:
    assert import_file(session, (NTA / "name_ver4_c4.csv").read_bytes(), "c4").inserted == 10
    assert import_file(session, (NTA / "name_ver4_x4.xml").read_bytes(), "x4").unchanged == 10
    assert as_of(session, "9040001999904").city_name == "文京区"


def test_diff_then_history_keeps_every_row_and_orders_them(session: Session) -> None:
    load(session, NTA / "num_1_ver4_x4.xml")
    load(session, NTA / "diff_20190404_ver4_c2.csv")
    rows = history(session, "4111101000007")
    assert [(r.process, r.correct, r.update_date.isoformat()) for r in rows] == [
        ("01", True, "2019-04-05"), ("12", False, "2019-04-04"), ("12", True, "2019-04-05"),
    ]  # fmt: skip
    assert [r.current for r in rows] == [False, False, True]
    assert as_of(session, "4111101000007", date(2019, 4, 3)).street_number.startswith("（東京市")
    assert as_of(session, "4111101000007").street_number == "神田小川町１丁目２０番地"


def test_first_load_records_no_events_and_later_loads_do(session: Session) -> None:
    first = load(session, NTA / "name_ver4_c4.csv")
    assert (first.inserted, first.events) == (10, 0)  # type: ignore[attr-defined]
    assert events_for(session, "corporation.record") == []
    later = load(session, NTA / "num_0_ver4_c4.csv")
    assert (later.inserted, later.events) == (1, 1)  # type: ignore[attr-defined]
    event = events_for(session, "corporation.record")[0]
    assert (event.topic, event.key) == ("corporation.record.new", "5111101000006")
    assert event.data["before"] is None and event.data["after"]["name"] == "株式会社検索対象除外"


def test_events_new_moved_and_corrected(session: Session) -> None:
    load(session, NTA / "name_ver4_c4.csv")  # the first load records no events
    load(session, NTA / "diff_20190404_ver4_x4.xml")
    load(session, NTA / "num_1_ver4_x4.xml")
    events = events_for(session, "corporation.record", "4111101000007")
    topics = [e.topic for e in events]
    assert topics == ["corporation.record.moved", "corporation.record.corrected"]
    assert events[0].data["before"] is None
    assert events[1].data["before"]["street_number"] == "神田小川町１丁目２０番地"


def test_renamed_event_has_before_and_after(session: Session) -> None:
    import_file(session, (HEADER.replace(",3,", ",1,") + GOOD).encode(), "a.csv")
    renamed = GOOD.replace(",01,0,2018-05-11,2015-10-05,", ",11,0,2024-04-01,2024-03-29,")
    renamed = renamed.replace("株式会社日立製作所", "株式会社日立")
    import_file(session, (HEADER.replace(",3,", ",1,") + renamed).encode(), "b.csv")
    event = events_for(session, "corporation.record.renamed", "7010001008844")[-1]
    names = (event.data["before"]["name"], event.data["after"]["name"])
    assert names == ("株式会社日立製作所", "株式会社日立")
    assert as_of(session, "7010001008844", date(2020, 1, 1)).name == "株式会社日立製作所"


def test_reimporting_the_same_file_changes_nothing(session: Session) -> None:
    data = (NTA / "name_ver4_c4.csv").read_bytes()
    import_file(session, data, "x")
    before = session.scalar(select(func.count()).select_from(CorporationRecord))
    again = import_file(session, data, "x")
    assert again.already_imported
    assert session.scalar(select(func.count()).select_from(CorporationRecord)) == before


def test_bad_rows_are_reported_with_line_numbers_and_the_rest_loads(session: Session) -> None:
    bad_digit = GOOD.replace("7010001008844", "2835678256246")
    extra_column = GOOD.replace(",0\n", ",0,x\n")
    zero_date = GOOD.replace("2018-05-11", "0000-00-00")
    sjis_line = GOOD.replace("日立製作所", "日立電線").encode("cp932")
    data = (HEADER.replace(",3,", ",5,") + bad_digit + extra_column + zero_date).encode() + \
        sjis_line + GOOD.encode()  # fmt: skip
    report = import_file(session, data, "bad.csv")
    assert report.inserted == 1
    lines = dict(report.problems)
    assert set(lines) == {2, 3, 4, 5}
    assert "check digit" in lines[2] and "31 columns" in lines[3]
    assert "0000-00-00" in lines[4] and "utf-8" in lines[5]
    kept = session.scalars(select(CorporationRejectedRow.line)).all()
    assert sorted(kept) == [2, 3, 4, 5]


def test_truncated_file_imports_nothing(session: Session) -> None:
    data = (HEADER + GOOD + GOOD[:40]).encode()
    with pytest.raises(ImportProblem, match="truncated"):
        import_file(session, data, "cut.csv")
    with pytest.raises(ImportProblem, match="promises 3 rows"):
        import_file(session, (HEADER + GOOD).encode(), "short.csv")
    xml = (NTA / "name_ver4_x4.xml").read_bytes()
    with pytest.raises(ImportProblem, match="truncated"):
        import_file(session, xml[: len(xml) // 2], "cut.xml")
    assert session.scalar(select(func.count()).select_from(CorporationRecord)) == 0


def test_conflicting_history_is_reported_and_the_first_row_kept(session: Session) -> None:
    head = HEADER.replace(",3,", ",1,")
    import_file(session, (head + GOOD).encode(), "a.csv")
    other = GOOD.replace("丸の内１丁目６番６号", "丸の内１丁目６番７号")
    report = import_file(session, (head + other).encode(), "b.csv")
    assert report.rejected == 1 and "conflicting history" in report.problems[0][1]
    assert as_of(session, "7010001008844").street_number == "丸の内１丁目６番６号"


def test_thirty_columns_in_the_layout() -> None:
    assert len(FIELDS) == 30


def test_gbizinfo_answers_import_and_nta_outranks_them(session: Session) -> None:
    report = load(session, GBIZ / "search.source4-ministry26.2026-07-10.json")
    assert report.inserted == 5  # type: ignore[attr-defined]
    assert as_of(session, "1000020320005").prefecture_name == "島根県"
    spec = load(session, GBIZ / "basic.spec-based.json")
    assert "check digit" in spec.problems[0][1]  # type: ignore[attr-defined]
    load(session, GBIZ / "basic.7010001008844.2026-07-10.json")
    assert as_of(session, "7010001008844").source == "gbizinfo"
    load(session, NTA / "num.7010001008844.2026-07-10.xml")
    now = as_of(session, "7010001008844")
    assert now.source == "nta" and now.en_name == "Hitachi, Ltd."


@pytest.mark.parametrize(
    "query",
    ["日立製作所", "株式会社日立製作所", "(株)日立製作所", "㈱日立製作所", "（株）日立",
     "ﾋﾀﾁｾｲｻｸｼｮ", "ひたちせいさくしょ"],
)  # fmt: skip
def test_name_search_is_normalized(session: Session, query: str) -> None:
    load(session, NTA / "num.7010001008844.2026-07-10.xml")
    total, rows, _ = search_by_name(session, query)
    assert total == 1 and rows[0].corporate_number == "7010001008844"


def test_name_search_leaves_out_hidden_rows_and_supports_contains(session: Session) -> None:
    load(session, NTA / "num_0_ver4_c4.csv")
    load(session, NTA / "name_ver4_c4.csv")
    assert search_by_name(session, "検索対象")[0] == 0
    assert search_by_name(session, "国税商事亜")[0] == 5
    assert search_by_name(session, "商事", match="contains")[0] == 10


def _stored(session: Session) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every stored record (without ids) and every event, in a fixed order."""
    table = CorporationRecord.__table__
    columns = [c for c in table.columns if c.name not in ("id", "import_id")]
    records = session.execute(select(*columns).order_by(*columns)).all()
    events: list[tuple[object, ...]] = [
        (e.topic, e.key, e.data) for e in events_for(session, "corporation.record")
    ]
    return [tuple(r) for r in records], events


@pytest.mark.postgres
def test_copy_path_stores_what_executemany_stores(
    session: Session, monkeypatch: pytest.MonkeyPatch, copy_statements: list[str]
) -> None:
    from tsunagu.registries.corporations import importer

    files = [NTA / "name_ver4_c4.csv", NTA / "num_1_ver4_x4.xml", NTA / "diff_20190404_ver4_c2.csv",
             GBIZ / "basic.7010001008844.2026-07-10.json",
             NTA / "num.7010001008844.2026-07-10.xml"]  # fmt: skip
    copies = copy_statements
    results = []
    for copy_min in (10**9, 1):  # executemany only, then COPY for every batch
        monkeypatch.setattr(importer, "COPY_MIN", copy_min)
        reports = [load(session, path) for path in files]
        inserted = sum(r.inserted for r in reports)  # type: ignore[attr-defined]
        results.append((_stored(session), [r.summary() for r in reports]))  # type: ignore[attr-defined]
        for model in (CorporationRecord, CorporationRejectedRow, CorporationImport, OutboxEvent):
            session.execute(delete(model))
        if copy_min > 1:
            assert copies == []
    assert len(copies) == len(files)
    (executemany, summaries), (copied, copy_summaries) = results
    assert executemany == copied and summaries == copy_summaries
    assert len(executemany[0]) == inserted > 10 and len(executemany[1]) > 0  # records, events


def test_a_carriage_return_inside_a_line_is_a_bad_row(session: Session) -> None:
    stray = GOOD.replace(",301,", ",3\r01,")
    data = (HEADER.replace(",3,", ",2,") + stray + GOOD).encode()
    report = import_file(session, data, "cr.csv")
    assert report.inserted == 1 and report.problems[0][0] == 2
    assert "not CSV" in report.problems[0][1]


def test_bad_xml_rows_are_kept_verbatim_and_the_rest_loads(session: Session) -> None:
    """Type 12: a row failing validation and a row with an element the layout has not are
    rejected by position, each stored as its own ``<corporation>`` element's XML."""
    from xml.etree.ElementTree import canonicalize

    xml = (NTA / "num_1_ver4_x4.xml").read_text(encoding="utf-8")
    head, _, rest = xml.partition("<corporation>")
    first, _, others = rest.partition("</corporation>")
    number = first.split("<corporateNumber>")[1].split("<")[0]
    bad_digit = first.replace(number, number[:-1] + str((int(number[-1]) + 1) % 10))
    unknown = first.replace("<kind>", "<motto>安心</motto><kind>")
    count = head.split("<count>")[1].split("<")[0]
    head = head.replace(f"<count>{count}</count>", f"<count>{int(count) + 2}</count>")
    data = (f"{head}<corporation>{bad_digit}</corporation>\n<corporation>{unknown}"
            f"</corporation><corporation>{first}</corporation>{others}").encode()  # fmt: skip
    report = import_file(session, data, "bad.xml")
    assert report.inserted == int(count) and report.rejected == 2
    reasons = dict(report.problems)
    assert set(reasons) == {1, 2}
    assert "check digit" in reasons[1] and "unknown elements ['motto']" in reasons[2]
    rows = session.execute(select(CorporationRejectedRow.line, CorporationRejectedRow.raw))
    kept = {line: canonicalize(raw) for line, raw in rows}
    assert kept == {1: canonicalize(f"<corporation>{bad_digit}</corporation>"),
                    2: canonicalize(f"<corporation>{unknown}</corporation>")}  # fmt: skip


def test_an_entity_expansion_bomb_is_refused_and_imports_nothing(session: Session) -> None:
    """An XML file whose entities expand to a billion characters ("billion laughs") is refused
    by the parser's amplification limit before it grows, and nothing of it is stored."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    xml = (NTA / "num_1_ver4_x4.xml").read_text(encoding="utf-8")
    head, _, rest = xml.partition("<corporations>")
    bomb = (f"{head}<!DOCTYPE corporations [{''.join(entities)}]><corporations>"
            + rest.replace("<changeCause/>", "<changeCause>&lol9;</changeCause>", 1))  # fmt: skip
    with pytest.raises(ImportProblem, match="amplification"):
        import_file(session, bomb.encode(), "bomb.xml")
    assert session.scalar(select(func.count()).select_from(CorporationRecord)) == 0
    assert session.scalar(select(func.count()).select_from(CorporationRejectedRow)) == 0
