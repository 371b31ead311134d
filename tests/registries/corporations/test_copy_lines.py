"""PostgreSQL reads a row's own line (copy_line): it must store what the row written out does.

On SQLite these tests store records by executemany; on PostgreSQL, by COPY of the rows' lines
where :func:`importer.copy_line` finds that sound and of the written-out records elsewhere.
Either way, every stored value must be what Python's reading of the file gave.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.registries.corporations.test_streaming import csv_file, number, row
from tsunagu.registries.corporations import import_file, importer, nta
from tsunagu.registries.corporations.models import CorporationRecord


def named(base: int, field: str) -> str:
    """A row whose name cell is ``field`` as written in the file (quotes and all)."""
    return row(number(base)).replace('"株式会社日立製作所"', field)


def street(base: int, field: str) -> str:
    """A row whose street cell (not part of any key) is ``field`` as written in the file."""
    return row(number(base)).replace('"丸の内１丁目６番６号"', field)


# Rows whose cells PostgreSQL's CSV reading would take otherwise than the csv module, or whose
# keys our columns could not carry quoted: these are written out, not sent as their lines.
WRITTEN_OUT = {
    "doubled quote": street(11, '"丸の内""１丁目"'),
    "quote inside an unquoted cell": street(12, '丸の内"１丁目'),
    "two quotes inside an unquoted cell": street(13, '丸の内""１丁目'),
    "quote in the name": named(23, '"株式会社日立""製作所"'),
    "fullwidth quote (a quote in the key after NFKC)": named(14, '"株式会社日立＂製作所"'),
    "quoted sequence number": '"9"' + row(number(2))[1:],
    "quoted 検索対象除外": row(number(4)).removesuffix(",0\n") + ',"1"\n',
}


def _lines() -> dict[str, str]:
    lines = {
        "plain": row(number(1)),
        "quoted flags": row(number(3)).replace(",2015-10-05,1,", ',2015-10-05,"1",'),
        "empty 検索対象除外": row(number(5)).removesuffix(",0\n") + ",\n",
        "closed, with a successor": row(number(6), process="71").replace(
            ",,,,,,2015-10-05,", f",,2020-01-01,01,{number(7)},,2015-10-05,"
        ),
        "quoted empty dates": row(number(8)).replace(",,,,,,2015-10-05,1,", ',,"",,,,"",1,'),
        "abroad (no 団体コード)": row(number(9)).replace(",13,101,", ",99,999,"),
        "CRLF": row(number(10)).replace("\n", "\r\n"),
        "quote in the sequence number (not stored)": '9"' + row(number(15))[1:],
        # Sent as their lines: PostgreSQL must read these as the csv module did.
        "comma in a quoted cell": named(16, '"株式会社日立,製作所"'),
        "text after a quoted part": named(17, '"株式会社日立"製作所'),
        "unquoted name": named(18, "株式会社日立製作所"),
        "backslashes, \\N and \\.": named(19, '"株式会社\\N日立\\.製作所"'),
        "tab": named(20, '"株式会社日立\t製作所"'),
        "spaces around": named(21, '" 株式会社日立製作所 "'),
        "quoted empty cell": row(number(22)).replace(",,301,", ',"",301,'),
    }
    return lines | WRITTEN_OUT


def _parsed_rows(data: bytes) -> list[nta.Row]:
    return [r for r in nta.parse_csv(data).rows if isinstance(r, nta.Row)]


def test_a_line_is_used_only_where_postgresql_reads_it_as_python_did() -> None:
    lines = _lines()
    rows = _parsed_rows(csv_file(*lines.values()))
    assert len(rows) == len(lines)
    used = {name: importer.copy_line(r, "nta", 1, current=True) is not None
            for name, r in zip(lines, rows, strict=True)}  # fmt: skip
    # The ordinary rows go as their lines; each tricky one is written out instead.
    assert used == {name: name not in WRITTEN_OUT for name in lines}


def test_rows_stored_from_their_lines_are_the_rows_python_read(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "COPY_MIN", 1)  # by COPY on PostgreSQL, however few the rows
    lines = _lines()
    data = csv_file(*lines.values())
    report = import_file(session, data, "lines.csv")
    assert (report.inserted, report.rejected) == (len(lines), 0), report.problems
    columns = [getattr(CorporationRecord, c) for c in importer.RECORD_COLUMNS]
    stored = session.execute(select(*columns).order_by(CorporationRecord.line)).all()
    expected = [
        importer._record(r, "nta", report_id(session), current=True) for r in _parsed_rows(data)
    ]
    assert [_comparable(s) for s in stored] == [_comparable(e) for e in expected]


@pytest.mark.parametrize("current", [True, False])
def test_our_columns_follow_the_published_ones(current: bool) -> None:
    (parsed,) = _parsed_rows(csv_file(row(number(1))))
    line = importer.copy_line(parsed, "nta", 42, current=current)
    assert line is not None
    *published, hihyoji, source, flag, key, reading, code, machiaza, job, at = line.split(",")
    assert published[0] == number(1) and len(published) == len(nta.FIELDS) - 2
    assert (hihyoji, source, flag) == ("f", '"nta"', "t" if current else "f")
    assert (key, reading, code, machiaza, job, at) == (
        '"日立製作所"',
        '"ヒタチセイサクショ"',
        "131016",
        "",
        "42",
        "2",
    )


def report_id(session: Session) -> int:
    return session.scalars(select(CorporationRecord.import_id)).first() or 0


def _comparable(values: Any) -> tuple[str, ...]:
    # Dates come back as dates on PostgreSQL and as text on SQLite; the record holds text.
    return tuple("" if v is None else v.isoformat() if hasattr(v, "isoformat") else str(v)
                 for v in values)  # fmt: skip
