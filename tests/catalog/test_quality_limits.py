"""Limits of the machine-readability check: zip bombs and CSV files wider than Excel."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from tsunagu.accounts import Caller
from tsunagu.catalog.datastore.reader import INFLATION_FLOOR
from tsunagu.catalog.quality.errors import FileTooLarge
from tsunagu.catalog.quality.readability import check_file
from tsunagu.catalog.quality.tables import open_table

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _bomb(path: Path) -> bytes:
    """A valid small workbook with a part inflating past INFLATION_FLOOR (about 100 KB zipped)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["名称", "人数"])
    sheet.append(["市役所", 3])
    book.save(path)
    chunk = b"\0" * (1 << 20)
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/padding.bin", "w") as part,
    ):
        for _ in range(INFLATION_FLOOR // len(chunk) + 1):
            part.write(chunk)
    return path.read_bytes()


def test_a_workbook_inflating_past_the_datastores_ratio_is_refused(tmp_path: Path) -> None:
    body = _bomb(tmp_path / "bomb.xlsx")
    assert len(body) < 500_000
    with pytest.raises(FileTooLarge, match="over 200× its own"):
        check_file(io.BytesIO(body), "bomb.xlsx", max_bytes=100_000_000)


def test_the_check_endpoint_answers_413_for_a_zip_bomb(
    client: TestClient, org_token: tuple[Caller, str], tmp_path: Path
) -> None:
    body = _bomb(tmp_path / "bomb.xlsx")
    response = client.post(
        "/api/v1/quality/check?name=bomb.xlsx", content=body,
        headers={"Authorization": org_token[1], "Content-Type": XLSX},
    )  # fmt: skip
    assert response.status_code == 413
    assert response.json()["type"].endswith("#quality-file-too-large")
    assert "a zip bomb?" in response.json()["detail"]


def test_a_csv_wider_than_excel_gets_column_names_past_xfd() -> None:
    width = 18_279  # one past ZZZ, the last name openpyxl's get_column_letter gives
    header = ",".join(f"c{i}" for i in range(width))
    row = ",".join(["1"] * (width - 1) + ["①"])  # a platform-dependent character in the last
    report = check_file(io.BytesIO(f"{header}\n{row}\n".encode()), "wide.csv")
    found = [(f.kind, f.column, f.header) for f in report.findings]
    assert ("platform-char", "AAAA", "c18278") in found, found[:10]


def test_a_sheet_declaring_the_whole_grid_is_not_padded_to_it(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["名称", "人数"], *[[f"施設{i}", i] for i in range(200)]]:
        sheet.append(row)
    plain = tmp_path / "plain.xlsx"
    book.save(plain)
    edited = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(edited, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', data)
            target.writestr(info, data)
    table = open_table(edited, "dim.xlsx", max_bytes=100_000_000)
    widths = {len(row) for sheet_ in table.sheets for row in sheet_.rows}
    assert widths == {2}  # not 16,384
