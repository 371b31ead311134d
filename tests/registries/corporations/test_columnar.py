"""Chunks read column by column (Arrow) give the very rows the row reader gives, or none."""

from __future__ import annotations

import csv
import re

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.registries.corporations.test_import import GOOD, NTA, _stored
from tsunagu.kernel import corporate_number_check_digit
from tsunagu.registries.corporations import columnar, import_file, importer, nta
from tsunagu.registries.corporations.models import CorporationRejectedRow
from tsunagu.registries.corporations.normalize import LEGAL_FORMS, name_key


def number(base: int) -> str:
    digits = f"{base:012d}"
    return f"{corporate_number_check_digit(digits)}{digits}"


def line(sequence: int, **cells: str) -> str:
    """GOOD (日立製作所) as sequence ``sequence`` with some cells replaced (NTA field names)."""
    values = next(csv.reader([GOOD.rstrip("\n")]))
    values[0] = str(sequence)
    for field, value in cells.items():
        values[nta.FIELDS.index(field)] = value
    return ",".join(f'"{v}"' if nta.FIELDS[i] in nta.QUOTED else v for i, v in enumerate(values))


def varied(count: int, start: int = 2) -> list[str]:
    """Valid rows of several kinds: renamed, closed with a successor, 検索対象除外, a reading
    with hiragana, an address abroad (no lg_code), English names, empty optional dates."""
    rows = []
    for i in range(count):
        kind = i % 6
        cells = {"corporateNumber": number(1000 + i), "name": f"株式会社テスト{i}"}
        if kind == 1:
            cells |= {"process": "11", "correct": "1", "name": f"合同会社みらい{i}",
                      "changeDate": "2020-02-29"}  # fmt: skip
        elif kind == 2:
            cells |= {"process": "71", "closeDate": "2021-03-31", "closeCause": "11",
                      "successorCorporateNumber": number(5), "latest": "0"}  # fmt: skip
        elif kind == 3:
            cells |= {"hihyoji": "1", "furigana": "てすと　ショウジ", "assignmentDate": ""}
        elif kind == 4:
            cells |= {"prefectureCode": "99", "cityCode": "999", "addressOutside": "ロンドン",
                      "enName": "Test Co., Ltd.", "enAddressOutside": "London, UK"}  # fmt: skip
        elif kind == 5:
            cells |= {"name": "（株）ＡＢＣ・ホールディングス", "streetNumber": ""}
        rows.append(line(start + i, **cells))
    return rows


def by_rows(data: bytes, before: int, encoding: str = "utf-8") -> bytes:
    """What the row reader (nta) makes of the chunk, encoded as binary COPY rows."""
    header, rows = nta.parse_chunk(encoding, before, data, complete=True)
    assert header is None or before == 0
    assert all(isinstance(r, nta.Row) for r in rows), rows
    batch = importer._batch(rows, 7, "nta", current=True, copy=False)
    return columnar.encode_records(batch.records)


def by_columns(data: bytes, before: int, encoding: str = "utf-8") -> bytes | None:
    fast = columnar.encode_chunk(data, before, 7, "nta", current=True, encoding=encoding)
    if fast is None:
        return None
    rows, numbers = fast
    assert numbers == [r.record[0] for r in nta.parse_chunk(encoding, before, data,
                                                             complete=True)[1]]  # fmt: skip
    return rows


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_valid_rows_encode_byte_for_byte_as_the_row_reader_encodes_them(
    encoding: str, ending: str
) -> None:
    data = ending.join(varied(60)).encode(encoding)
    fast = by_columns(data, 1, encoding)
    assert fast is not None  # the fast path was taken
    assert fast == by_rows(data, 1, encoding)


def test_the_real_sample_files_data_lines_read_the_same_either_way() -> None:
    taken = 0
    for path in sorted(NTA.glob("*_c[24].csv")):
        encoding = "utf-8" if path.name.endswith("c4.csv") else "cp932"
        lines = path.read_bytes().removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n").split(b"\n")
        data = b"\n".join(lines[1:])  # the first line is the header
        fast = by_columns(data, 1, encoding)
        if fast is not None:
            assert fast == by_rows(data, 1, encoding), path.name
            taken += 1
    assert taken >= 3


BROKEN = {
    "check digit": line(2, corporateNumber="7010001008845"),
    "successor's check digit": line(2, successorCorporateNumber="7010001008845"),
    "12 digits": line(2, corporateNumber="010001008844"),
    "full-width digits": line(2, corporateNumber="７０１０００１００８８４４"),
    # ":" is "0" + 10: in place of a 1 the check digit's sum stays the same modulo 9.
    "a colon for a digit": line(2, corporateNumber="70:0001008844"),
    "process": line(2, process="02"),
    "correct": line(2, correct="2"),
    "latest": line(2, latest="x"),
    "hihyoji": line(2, hihyoji="2"),
    "empty name": line(2, name=""),
    "30 February": line(2, changeDate="2015-02-30"),
    "0000-00-00": line(2, closeDate="0000-00-00"),
    "slashes": line(2, updateDate="2015/10/05"),
    "ISO week date": line(2, assignmentDate="2015-W01-1"),
    "no update date": line(2, updateDate=""),
    "31 columns": line(2) + ",x",
    "29 columns": line(2).rsplit(",", 1)[0],
    "doubled quote": line(2, name='株式会社""日立""'),
    "quote in an unquoted cell": line(2, nameImageId='1"2'),
    "quote ending an unquoted cell": line(2, nameImageId='12"'),
    "text after a closing quote": line(2).replace('"東京都"', '"東京"都'),
    "carriage return in a line": line(2).replace(",301,", ",3\r01,"),
    "NUL": line(2, nameImageId="\x00"),
    "empty line": line(2) + "\n",
    "quoted line end": line(2, name="株式会社\n日立"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_chunk_it_cannot_prove_goes_to_the_row_reader(case: str) -> None:
    rows = varied(5, start=3)
    data = "\n".join([*rows[:2], BROKEN[case], *rows[2:]]).encode()
    assert by_columns(data, 1) is None


def test_bytes_not_in_the_encoding_go_to_the_row_reader() -> None:
    data = "\n".join(varied(3)).encode("utf-8")
    assert by_columns(data.replace("テスト".encode(), b"\xff\xfe"), 1) is None
    assert by_columns(data, 1, "cp932") is None  # UTF-8 bytes are not Shift_JIS text


def test_the_header_chunk_and_the_unterminated_last_line_go_to_the_row_reader() -> None:
    rows = varied(4)
    data = ("2024-04-01,4,1,1\n" + "\n".join(rows)).encode()
    head = importer._prepare_chunk("utf-8", 0, data, True, 7, "nta", True, True)
    assert head[0] is not None and head[0].count == 4 and head[1] == 4
    assert head[2] == by_rows("\n".join(rows).encode(), 1)  # same rows, read by nta
    with pytest.raises(nta.TruncatedFile):
        importer._prepare_chunk("utf-8", 3, rows[-1][:40].encode(), False, 7, "nta", True, True)


@pytest.mark.postgres
def test_binary_copy_stores_and_rejects_what_the_row_path_does(
    session: Session, monkeypatch: pytest.MonkeyPatch, copy_statements: list[str]
) -> None:
    rows = varied(120)
    rows[70] = line(72, corporateNumber="7010001008845")  # a bad row: its chunk goes by rows
    text = "2024-04-01,121,1,1\r\n" + "\r\n".join([GOOD.rstrip("\n"), *rows]) + "\r\n"
    statements = copy_statements
    monkeypatch.setattr(nta, "BLOCK", 4096)  # about ten rows a chunk
    results = []
    for encoding in ("utf-8", "cp932"):
        for workers in (0, 2):
            statements.clear()
            report = import_file(session, text.encode(encoding), f"{encoding}-{workers}.csv",
                                 workers=workers)  # fmt: skip
            assert report.summary().endswith("121 rows, 120 new, 0 unchanged, 1 rejected, 0 events")
            binary = [s for s in statements if "FORMAT binary" in s]
            assert (len(binary) > 5) if workers else not binary
            rejected = session.execute(select(CorporationRejectedRow.line,
                                              CorporationRejectedRow.reason)).all()  # fmt: skip
            results.append((_stored(session), rejected))
            session.rollback()
    assert all(result == results[0] for result in results)
    assert results[0][1] == [(73, "corporateNumber '7010001008845' fails the check digit")]


# Characters of the fast path's set (kanji, 々, katakana, ・, ー, ASCII letters and digits) and
# some that send a name to name_key itself (hiragana, spaces, full-width letters, brackets,
# half-width katakana, a hyphen).
_PIECES = [*"日立製作所山田東京々アイウガヴヷヺ・ーAbZz09", *LEGAL_FORMS, *"あ　 ＡＢ（）()ｱ-",
           "(株)", "（株）"]  # fmt: skip


# No deadline: an example's time is Arrow's on a shared machine, not what is tested.
@settings(deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map("".join),
                min_size=1, max_size=40))  # fmt: skip
def test_name_keys_are_name_key_of_each_name(names: list[str]) -> None:
    assert columnar.name_keys(pa.array(names, pa.string())).to_pylist() == [
        name_key(n) for n in names
    ]


def test_name_keys_take_the_fast_path_for_plain_names_only() -> None:
    names = ["株式会社日立製作所", "ソニーグループ株式会社", "ABC合同会社", "株式会社ー",
             "みらい株式会社", "（株）ＡＢＣ", "佐々木 工業"]  # fmt: skip
    simple = pc.match_substring_regex(pa.array(names), columnar._SIMPLE_NAME).to_pylist()
    assert simple == [True, True, True, True, False, False, False]
    assert columnar.name_keys(pa.array(names)).to_pylist() == [name_key(n) for n in names]


@settings(deadline=None, max_examples=300)
@given(st.lists(st.sampled_from([b'"', b",", b"\n", b"a", "日".encode()]), max_size=12))
def test_an_odd_quote_is_what_the_regular_expression_finds(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert columnar._odd_quote(data) == bool(re.search(rb'[^,\n]"[^,\n]', data))
