"""Importing real ABR files: provenance, newest wins, as-of, re-import, events, bad rows, resume."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from tsunagu.db import events_for
from tsunagu.registries.address import (
    AddressImportError,
    import_files,
    iter_blocks,
    iter_municipalities,
    iter_residences,
    iter_towns,
)
from tsunagu.registries.address.models import import_source, residence, town

from .conftest import ABR, MakeZip, corrupt_middle, read_csv, slice_lines

TOWN30 = ABR / "mt_town_pref30.csv.zip"
TOWN30_POS = ABR / "mt_town_pos_pref30.csv.zip"
RSDT30 = ABR / "mt_rsdtdsp_rsdt_pref30.csv.zip"
RSDT30_POS = ABR / "mt_rsdtdsp_rsdt_pos_pref30.csv.zip"
TOWN30_2022 = ABR / "abr-2022-04" / "mt_town_pref30.csv.zip"
TOWN45 = ABR / "mt_town_pref45.csv.zip"


def _count(connection: Connection, table: object, **where: str) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    for name, value in where.items():
        query = query.where(getattr(table, "c")[name] == value)  # noqa: B009
    return int(connection.scalar(query) or 0)


def test_imports_wakayama_towns_and_residences_with_positions(connection: Connection) -> None:
    reports = import_files(connection, [TOWN30, TOWN30_POS, RSDT30, RSDT30_POS])
    assert [r.rows for r in reports] == [3544, 3537, 34015, 34016]
    assert all(not r.errors and r.events == 0 for r in reports)
    session = Session(bind=connection)
    aoi = next(t for t in iter_towns(session, ["302015"]) if t["machiaza_id"] == "0001000")
    assert (aoi["pref"], aoi["city"], aoi["oaza_cho"], aoi["post_code"]) == (
        "和歌山県", "和歌山市", "葵町", "6408273",
    )  # fmt: skip
    assert aoi["efct_date"] == date(1947, 4, 17)
    assert (aoi["rep_lat"], aoi["rep_lon"]) == (34.21348, 135.163085)
    first = next(iter_residences(session, ["302015"]))
    assert (first["blk_num"], first["rsdt_num"], first["rsdt2_id"]) == ("1", "1", None)
    assert first["rep_lat"] == pytest.approx(34.214456043)
    # provenance: file and the publisher's file date (the zip entry's date)
    row = connection.execute(select(town.c.source_file, town.c.source_date).limit(1)).one()
    assert tuple(row) == ("mt_town_pref30.csv.zip", date(2026, 3, 10))


def test_prefecture_code_selects_all_its_municipalities(connection: Connection) -> None:
    import_files(connection, [TOWN30])
    session = Session(bind=connection)
    codes = {t["lg_code"] for t in iter_towns(session, ["300004"])}
    assert len(codes) == 30 and all(c.startswith("30") for c in codes)
    assert list(iter_towns(session, ["130001"])) == []


def test_reimport_is_a_no_op_without_events(connection: Connection, make_zip: MakeZip) -> None:
    import_files(connection, [TOWN30])
    again = import_files(connection, [TOWN30])
    assert again[0].skipped and again[0].summary().endswith("already imported")
    # a byte-different copy of the same rows (with a BOM) changes nothing either
    member, text, _ = read_csv(TOWN30)
    copy = make_zip(
        "mt_town_pref30.csv.zip", member, text.splitlines(), date(2026, 3, 10), bom=True
    )
    report = import_files(connection, [copy])[0]
    # 19 keys are listed twice in the real file (the later line wins), so 3,525 distinct rows
    assert (report.unchanged, report.duplicates) == (3525, 19)
    assert (report.changed, report.inserted, report.withdrawn, report.events) == (0, 0, 0, 0)
    assert events_for(Session(bind=connection), "address.") == []


def test_changed_copy_emits_new_changed_and_abolished_with_before_after(
    connection: Connection, make_zip: MakeZip
) -> None:
    import_files(connection, [TOWN30])
    lines = slice_lines(TOWN30, lambda line: True)
    header, rows = lines[0], lines[1:]
    aoi = next(i for i, r in enumerate(rows) if r.startswith("302015,0001000,"))
    akizuki = next(i for i, r in enumerate(rows) if r.startswith("302015,0002000,"))
    rows[aoi] = rows[aoi].replace("葵町,アオイチョウ", "新葵町,シンアオイチョウ")
    rows[akizuki] = rows[akizuki].replace(",1947-04-17,,", ",1947-04-17,2026-04-01,")
    dropped = rows.pop(akizuki + 1)
    rows.append(rows[aoi].replace("302015,0001000,", "302015,0999000,", 1))
    newer = make_zip("mt_town_pref30.csv.zip", "mt_town_pref30.csv", [header, *rows],
                     date(2026, 5, 1))  # fmt: skip
    report = import_files(connection, [newer])[0]
    assert (report.inserted, report.changed, report.withdrawn) == (1, 2, 1)
    session = Session(bind=connection)
    events = {(e.topic, e.key): e for e in events_for(session, "address.machiaza.")}
    changed = events[("address.machiaza.changed", "302015/0001000")]
    assert changed.data["before"]["oaza_cho"] == "葵町"
    assert changed.data["after"]["oaza_cho"] == "新葵町"
    abolished = events[("address.machiaza.abolished", "302015/0002000")]
    assert abolished.data["before"]["ablt_date"] is None
    assert abolished.data["after"]["ablt_date"] == "2026-04-01"
    assert events[("address.machiaza.new", "302015/0999000")].data["before"] is None
    gone = "/".join(dropped.split(",")[:2])
    assert events[("address.machiaza.abolished", gone)].data["after"] is None
    assert len(events) == 4
    # history stays: the abolished and the withdrawn rows are still in the table
    assert _count(connection, town, lg_code="302015", machiaza_id="0002000") == 1
    current = {t["machiaza_id"] for t in iter_towns(session, ["302015"])}
    assert "0002000" not in current and gone.split("/")[1] not in current
    before = {t["machiaza_id"] for t in iter_towns(session, ["302015"], as_of=date(2026, 3, 31))}
    assert {"0002000", gone.split("/")[1]} <= before


def test_newest_file_wins_per_municipality(connection: Connection) -> None:
    # 2026 first, then 2022: the older rows of 和歌山県 are superseded, not loaded
    _, old = import_files(connection, [TOWN30, TOWN30_2022])
    assert old.superseded == old.rows > 0 and old.inserted == 0
    source = connection.execute(
        select(import_source.c.file_date).where(import_source.c.lg_code == "302015")
    ).scalar_one()
    assert source == date(2026, 3, 10)


def test_newer_file_replaces_older_and_reports_changes(connection: Connection) -> None:
    old, current = import_files(connection, [TOWN30_2022, TOWN30])
    assert old.inserted == old.rows and old.events == 0  # a first load emits nothing
    assert current.superseded == 0 and current.events > 0
    assert current.changed + current.unchanged + current.inserted + current.duplicates == 3544
    assert current.withdrawn > 0  # 2022 町字 (mostly 小字) the 2026 file no longer lists
    rows = connection.execute(
        select(town.c.source_date)
        .where(town.c.lg_code == "302015", town.c.withdrawn_date.is_(None))
        .distinct()
    ).scalars()
    assert set(rows) == {date(2026, 3, 10)}  # withdrawn rows keep their 2022 provenance


def test_old_japanese_headers_map_to_abr_names(connection: Connection) -> None:
    import_files(connection, [TOWN30_2022])
    row = next(iter_towns(Session(bind=connection), ["302015"]))
    assert row["pref"] == "和歌山県" and row["src_code"] == "0"  # "0 " in the file
    assert row["lg_code"] == "302015" and len(row["machiaza_id"]) == 7


def test_as_of_answers_with_rows_valid_on_that_date(
    connection: Connection, make_zip: MakeZip
) -> None:
    lines = slice_lines(TOWN45, lambda line: line.startswith("452017,"))
    header = lines[0]
    rows = [
        lines[1].replace(",1947-04-17,,", ",2000-01-01,2010-03-31,"),
        lines[2].replace(",1947-04-17,,", ",2010-04-01,,"),
    ]
    path = make_zip("mt_town_pref45.csv.zip", "mt_town_pref45.csv", [header, *rows],
                    date(2025, 5, 28))  # fmt: skip
    import_files(connection, [path])
    session = Session(bind=connection)

    def ids(when: date) -> list[str]:
        return [t["machiaza_id"] for t in iter_towns(session, ["452017"], as_of=when)]

    first, second = (r.split(",")[1] for r in rows)
    assert ids(date(1999, 12, 31)) == []
    assert ids(date(2005, 6, 1)) == [first]
    assert ids(date(2010, 3, 30)) == [first]
    assert ids(date(2010, 3, 31)) == []  # 廃止日: no longer in force on that day
    assert ids(date(2010, 4, 1)) == [second]
    assert ids(date(2026, 1, 1)) == [second]


def test_broken_rows_are_reported_by_line_and_the_rest_loads(
    connection: Connection, make_zip: MakeZip
) -> None:
    lines = slice_lines(TOWN45, lambda line: line.startswith("452017,"))[:11]
    lines[3] = "452017,0000103,too,few"
    lines[5] = lines[5].replace("1947-04-17", "1947-13-45")
    lines[7] = "45201X" + lines[7][6:]
    lines[9] = lines[9].replace("452017,", "452017,\x00", 1)
    path = make_zip("mt_town_pref45.csv.zip", "mt_town_pref45.csv", lines, date(2025, 5, 28))
    report = import_files(connection, [path])[0]
    assert [e.line for e in report.errors] == [4, 6, 8, 10]
    assert "fields" in report.errors[0].message
    assert "efct_date" in report.errors[1].message
    assert "lg_code" in report.errors[2].message
    assert report.rows == 6 and report.inserted == 6
    assert _count(connection, town, lg_code="452017") == 6


def test_truncated_zip_is_a_one_line_error_and_keeps_data(
    connection: Connection, tmp_path: Path
) -> None:
    import_files(connection, [TOWN30])
    before = _count(connection, town, lg_code="302015")
    cut = tmp_path / "mt_town_pref30.csv.zip"
    cut.write_bytes(TOWN30.read_bytes()[:30000])
    with pytest.raises(AddressImportError) as error:
        import_files(connection, [cut])
    assert "truncated" in error.value.detail and "\n" not in error.value.detail
    assert _count(connection, town, lg_code="302015") == before


def test_file_damaged_halfway_rolls_back_and_the_next_run_resumes(
    connection: Connection, tmp_path: Path
) -> None:
    damaged = corrupt_middle(RSDT30, tmp_path / "mt_rsdtdsp_rsdt_pref30.csv.zip")
    with pytest.raises(AddressImportError, match="damaged") as error:
        import_files(connection, [TOWN30, damaged, TOWN30_POS])
    assert error.value.detail.startswith("mt_rsdtdsp_rsdt_pref30.csv.zip")
    # the file before the damaged one stays; nothing of the damaged file was kept
    assert _count(connection, town, lg_code="302015") > 0
    assert _count(connection, residence) == 0
    resumed = import_files(connection, [TOWN30, RSDT30, TOWN30_POS])
    assert [r.skipped for r in resumed] == [True, False, False]
    assert _count(connection, residence) == 34015


def test_wrong_file_kind_and_missing_file_are_clear_errors(
    connection: Connection, tmp_path: Path, make_zip: MakeZip
) -> None:
    with pytest.raises(AddressImportError, match="no such file"):
        import_files(connection, [tmp_path / "nothing.zip"])
    odd = make_zip("data.zip", "data.csv", ["a,b", "1,2"], date(2026, 1, 1))
    with pytest.raises(AddressImportError, match="not an ABR file name"):
        import_files(connection, [odd])
    header = make_zip("mt_town_pref30.csv.zip", "mt_town_pref30.csv", ["a,b", "1,2"],
                      date(2026, 1, 1))  # fmt: skip
    with pytest.raises(AddressImportError, match="header lacks lg_code"):
        import_files(connection, [header])


def test_municipalities_and_prefectures_with_positions(connection: Connection) -> None:
    import_files(connection, [ABR / "mt_city_all.csv.zip", ABR / "mt_city_pos_all.csv.zip"])
    session = Session(bind=connection)
    cities = list(iter_municipalities(session, ["130001"]))
    chiyoda = next(c for c in cities if c["lg_code"] == "131016")
    assert chiyoda["city"] == "千代田区" and chiyoda["rep_lat"] is not None


def test_abr_geocoder_block_lists_load_as_blocks_with_positions(connection: Connection) -> None:
    slices = ABR / "abr-geocoder-v1-test-dataset" / "dataset" / "tokyo" / "chiyoda"
    paths = [slices / "kioicho" / "blockList.json", slices / "kudanminami/1chome/blockList.json"]
    reports = import_files(connection, paths)
    assert [(r.kind, r.rows) for r in reports] == [
        ("mt_rsdtdsp_blk", 7), ("mt_rsdtdsp_blk_pos", 7),
        ("mt_rsdtdsp_blk", 6), ("mt_rsdtdsp_blk_pos", 6),
    ]  # fmt: skip
    blocks = list(iter_blocks(Session(bind=connection), ["131016"]))
    assert len(blocks) == 13
    kioi = next(b for b in blocks if b["machiaza_id"] == "0056000" and b["blk_id"] == "001")
    assert (kioi["blk_num"], kioi["city"]) == ("1", "千代田区")
    assert (kioi["rep_lat"], kioi["rep_lon"]) == (35.679921, 139.737183)
    assert all(r.skipped for r in import_files(connection, paths))
