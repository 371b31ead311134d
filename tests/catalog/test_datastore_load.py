"""Loading CSV/XLSX distributions into datastore tables, typed by their data dictionary."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.accounts import Caller
from tsunagu.catalog.datastore import (
    DatastoreLoadError,
    DatastoreTable,
    SearchRequest,
    detect_encoding,
    load_file,
    read_all,
    search,
)
from tsunagu.catalog.datastore.load import sa_table, schema_of

from .datastore_helpers import AED_HEADER, AED_ROWS, make_resource, write_csv

SAMPLES = SHARED / "jp-open-data-samples"


def _rows(session: Session, reg: DatastoreTable) -> list[dict[str, object]]:
    result = search(session, reg, SearchRequest(limit=1000))
    return result["records"]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp932", "cp932"), ("utf-16", "utf-16")],
)
def test_reads_each_japanese_encoding(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path, encoding: str, expected: str
) -> None:
    resource = make_resource(session, org_token[0])
    # ① and № are CP932-only characters: a Shift_JIS decoder would reject them.
    lines = [AED_HEADER, *AED_ROWS, "4,消防署①№分署,34.2,135.1,1,2019-01-31"]
    path = write_csv(tmp_path / "aed.csv", lines, encoding)
    report = load_file(session, resource, path)
    assert report.table.encoding == expected
    rows = _rows(session, report.table)
    assert [r["名称"] for r in rows] == ["市役所本庁舎", "中央公民館", "市立体育館", "消防署①№分署"]
    assert rows[0]["設置台数"] == 2 and rows[0]["緯度"] == pytest.approx(34.226)
    assert rows[0]["設置開始日"] == "2020-04-01" and rows[2]["設置開始日"] is None
    assert [r["_id"] for r in rows] == [2, 3, 4, 5]  # row numbers in the file, header = 1


def test_columns_are_typed_by_the_dictionary_not_by_the_values(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    # NO looks like an integer in every row, but the dictionary says string: leading zeros stay.
    resource = make_resource(session, org_token[0])
    path = write_csv(tmp_path / "aed.csv", [AED_HEADER, "007,本庁舎,34.1,135.1,1,2020-01-01"])
    report = load_file(session, resource, path)
    types = {f["id"]: f["type"] for f in report.table.fields}
    assert types == {"NO": "text", "名称": "text", "緯度": "number", "経度": "number",
                     "設置台数": "integer", "設置開始日": "date"}  # fmt: skip
    assert _rows(session, report.table)[0]["NO"] == "007"
    table = sa_table(report.table.table_name, [], schema_of(session.connection()))
    stored = session.execute(select(func.count()).select_from(table)).scalar_one()
    assert stored == 1


def test_a_bad_row_is_reported_and_the_load_goes_on(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    resource = make_resource(session, org_token[0])
    lines = [
        AED_HEADER,
        AED_ROWS[0],
        "2,中央公民館,34.2301,135.1702,１台,2021-10-15",  # full-width digit and a unit
        "3,,34.2,135.1,1,2021-01-01",  # required 名称 missing
        "4,図書館,34.2,135.1,1,令和3年4月1日",  # era date
        "5,駅前,34.2,135.1,1,2021-02-30",  # no such day
        "6,a,1,2,3,2021-01-01,extra",  # a cell more than the header
        ",,,,,",  # a blank row is skipped, not an error
        AED_ROWS[2],
    ]
    report = load_file(session, resource, write_csv(tmp_path / "aed.csv", lines))
    assert report.rows == 2 and report.rejected == 5 and report.blank == 1
    assert [(e["row"], e["field"]) for e in report.table.load_errors] == [
        (3, "設置台数"), (4, "名称"), (5, "設置開始日"), (6, "設置開始日"), (7, None),
    ]  # fmt: skip
    assert report.table.load_errors[0]["value"] == "１台"
    assert [r["名称"] for r in _rows(session, report.table)] == ["市役所本庁舎", "市立体育館"]


def test_a_column_not_in_the_dictionary_is_text_and_headers_match_after_nfkc(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    dictionary = [{"name": "料金（基本）", "data_type": "integer"}]
    resource = make_resource(session, org_token[0], dictionary=dictionary)
    path = write_csv(tmp_path / "x.csv", ["料金(基本),備考,備考,", "500,a,b,c"])
    report = load_file(session, resource, path)
    assert [(f["id"], f["type"], f["element"]) for f in report.table.fields] == [
        ("料金(基本)", "integer", "料金（基本）"),
        ("備考", "text", ""),
        ("備考_2", "text", ""),
        ("column_4", "text", ""),
    ]
    assert _rows(session, report.table)[0]["料金(基本)"] == 500


def test_reloading_replaces_the_table(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    resource = make_resource(session, org_token[0])
    load_file(session, resource, write_csv(tmp_path / "a.csv", [AED_HEADER, *AED_ROWS]))
    report = load_file(session, resource, write_csv(tmp_path / "b.csv", [AED_HEADER, AED_ROWS[1]]))
    assert [r["名称"] for r in _rows(session, report.table)] == ["中央公民館"]
    assert session.scalar(select(func.count()).select_from(DatastoreTable)) == 1
    assert report.table.source_name == "b.csv"


def test_a_table_whose_resource_was_removed_is_dropped_at_the_next_load(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    gone = make_resource(session, org_token[0], name="aed-gone")
    load_file(session, gone, write_csv(tmp_path / "a.csv", [AED_HEADER, *AED_ROWS]))
    gone_id = gone.id
    session.delete(gone)  # as package_update does when a resource leaves the dataset
    session.flush()
    schema = schema_of(session.connection())
    assert gone_id in inspect(session.connection()).get_table_names(schema=schema)
    other = make_resource(session, org_token[0], name="aed-other")
    load_file(session, other, write_csv(tmp_path / "b.csv", [AED_HEADER, *AED_ROWS]))
    names = inspect(session.connection()).get_table_names(schema=schema)
    assert gone_id not in names and other.id in names


def test_loads_the_first_sheet_of_an_xlsx_with_native_cell_types(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    resource = make_resource(session, org_token[0])
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(AED_HEADER.split(","))
    sheet.append([1, "本庁舎", 34.226, 135.1675, 2.0, date(2020, 4, 1)])
    sheet.append([2, "公民館", 34.23, 135.17, "二台", None])
    book.save(tmp_path / "aed.xlsx")
    report = load_file(session, resource, tmp_path / "aed.xlsx")
    assert report.table.file_format == "xlsx" and report.rows == 1 and report.rejected == 1
    row = _rows(session, report.table)[0]
    assert row["NO"] == "1" and row["設置台数"] == 2 and row["設置開始日"] == "2020-04-01"


def test_real_cp932_municipal_file_is_read(tmp_path: Path) -> None:
    path = SAMPLES / "yaizu-city" / "yohairyosya.csv"
    assert detect_encoding(path) == "cp932"
    header, rows = read_all(path)
    # 278 records with the header (SOURCES.md); quoted cells span lines, so 335 lines.
    assert header[0] == "№" and len(rows) == 277
    assert rows[-1][0] == "285" or any("①" in cell for row in rows for cell in row)


# ---------------------------------------------------------------- files that cannot be loaded


def _load_fails(session: Session, caller: Caller, path: Path, **kwargs: object) -> str:
    resource = make_resource(session, caller, name=f"aed-{path.stem}")
    before = session.scalar(select(func.count()).select_from(DatastoreTable))
    with pytest.raises(DatastoreLoadError) as caught:
        load_file(session, resource, path, **kwargs)  # type: ignore[arg-type]
    assert session.scalar(select(func.count()).select_from(DatastoreTable)) == before
    return caught.value.detail


def test_rejects_a_file_in_an_unknown_encoding(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    path = tmp_path / "euc.csv"
    path.write_bytes("名称,住所\n".encode() + "横浜市,港北区\n".encode("euc_jp") + b"\x80\xff\n")
    assert "unknown encoding" in _load_fails(session, org_token[0], path)


def test_rejects_binary_broken_zip_macro_and_old_excel_files(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    caller = org_token[0]
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"a,b\n\x00\x01\x02\n")
    assert "NUL" in _load_fails(session, caller, binary)
    broken = tmp_path / "broken.xlsx"
    book = openpyxl.Workbook()
    book.save(broken)
    broken.write_bytes(broken.read_bytes()[:300])  # truncated zip
    assert "broken zip" in _load_fails(session, caller, broken)
    macro = tmp_path / "macro.xlsm"
    with zipfile.ZipFile(macro, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/vbaProject.bin", b"\x00" * 10)
    assert "macros" in _load_fails(session, caller, macro)
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    assert ".xls" in _load_fails(session, caller, xls)
    not_xlsx = tmp_path / "fake.xlsx"
    not_xlsx.write_text("a,b\n1,2\n")
    assert "not a zip" in _load_fails(session, caller, not_xlsx)


def test_rejects_empty_headerless_and_too_large_files(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    caller = org_token[0]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "no header" in _load_fails(session, caller, empty)
    blank_header = write_csv(tmp_path / "blank.csv", [",,", "1,2,3"])
    assert "no header" in _load_fails(session, caller, blank_header)
    big = write_csv(tmp_path / "big.csv", [AED_HEADER, *AED_ROWS * 100])
    assert "more than the limit" in _load_fails(session, caller, big, max_bytes=1024)


def test_a_file_broken_halfway_stores_nothing_and_keeps_the_previous_table(
    session: Session, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    resource = make_resource(session, org_token[0])
    good = load_file(session, resource, write_csv(tmp_path / "a.csv", [AED_HEADER, *AED_ROWS]))
    session.commit()
    # 20,000 good rows, then a quote that never closes: the load fails while inserting.
    lines = [AED_HEADER, *[f"{i},名称{i},34.1,135.1,1,2020-01-01" for i in range(20_000)]]
    bad = write_csv(tmp_path / "bad.csv", lines)
    with bad.open("ab") as fh:
        fh.write(b'"unterminated,1,2\n' + b"x" * 1_100_000)
    with pytest.raises(DatastoreLoadError):
        load_file(session, resource, bad, validate=False)
    session.rollback()
    names = [r["名称"] for r in _rows(session, good.table)]
    assert names == ["市役所本庁舎", "中央公民館", "市立体育館"]
