"""Streaming import: block and batch boundaries change nothing; a failure leaves nothing."""

from __future__ import annotations

import gc
import hashlib
import io
import marshal
import multiprocessing
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, delete, func, inspect, select, text
from sqlalchemy.orm import Session

from tests.registries.corporations.test_import import GBIZ, GOOD, NTA, _stored
from tsunagu.db import OutboxEvent, events_for
from tsunagu.db.migrate import alembic_config, migrate_connection
from tsunagu.kernel import corporate_number_check_digit
from tsunagu.registries.corporations import ImportProblem, as_of, history, import_file, nta
from tsunagu.registries.corporations import importer as importer_module
from tsunagu.registries.corporations.models import (
    CorporationImport,
    CorporationRecord,
    CorporationRejectedRow,
)

FILES = [NTA / "name_ver4_c4.csv", NTA / "num_1_ver4_x4.xml", NTA / "diff_20190404_ver4_c2.csv",
         GBIZ / "basic.7010001008844.2026-07-10.json", NTA / "num_0_ver4_x4.xml",
         NTA / "num.7010001008844.2026-07-10.xml"]  # fmt: skip
HITACHI = "7010001008844"


def number(base: int) -> str:
    digits = f"{base:012d}"
    return f"{corporate_number_check_digit(digits)}{digits}"


def row(corporate_number: str, name: str = "株式会社日立製作所", process: str = "01",
        changed: str = "2015-10-05") -> str:  # fmt: skip
    line = GOOD.replace(HITACHI, corporate_number).replace("株式会社日立製作所", name)
    return line.replace(",01,0,2018-05-11,2015-10-05,", f",{process},0,2018-05-11,{changed},")


def csv_file(*rows: str, count: int | None = None) -> bytes:
    return (f"2024-04-01,{len(rows) if count is None else count},1,1\n" + "".join(rows)).encode()


def _clear(session: Session) -> None:
    for model in (CorporationRecord, CorporationRejectedRow, CorporationImport, OutboxEvent):
        session.execute(delete(model))


def _indexes(session: Session) -> set[str]:
    found = inspect(session.connection()).get_indexes("corporation_record")
    return {str(index["name"]) for index in found}


def test_blocks_and_batches_store_what_one_block_stores(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Mixed encodings, a bad row and a record broken over two lines (read line by line).
    sjis = GOOD.replace("日立製作所", "日立電線")
    odd = csv_file(row(number(1)), sjis, GOOD.replace(",0\n", ",0,x\n"),
                   row(number(2), name='株式会社"日立\n製作所"'), count=5)  # fmt: skip
    odd = odd.replace("日立電線".encode(), "日立電線".encode("cp932"))
    results = []
    # The third: 8 bits for the numbers a first load has met, so that most are suspects. The
    # last: CSV chunks read by two worker processes.
    for block, batch, bits, workers in (
        (nta.BLOCK, importer_module.BATCH, importer_module._SEEN_BITS, 0),
        (37, 1, 1 << 20, 0),
        (4096, 2, 8, 0),
        (300, 1, 8, 2),
    ):
        monkeypatch.setattr(nta, "BLOCK", block)
        monkeypatch.setattr(importer_module, "BATCH", batch)
        monkeypatch.setattr(importer_module, "_SEEN_BITS", bits)
        reports = [import_file(session, path.read_bytes(), path.name, workers=workers)
                   for path in FILES]  # fmt: skip
        reports.append(import_file(session, odd, "odd.csv", workers=workers))
        lines = sorted(session.execute(select(CorporationRejectedRow.line,
                                              CorporationRejectedRow.reason)).all())  # fmt: skip
        results.append((_stored(session), [r.summary() for r in reports], lines))
        _clear(session)
    assert results[0] == results[1] == results[2] == results[3]
    stored, summaries, rejected = results[0]
    assert len(stored[0]) > 10 and len(stored[1]) > 0 and len(rejected) >= 3
    assert summaries[-1].endswith("5 rows, 1 new, 0 unchanged, 4 rejected, 1 events")


@pytest.mark.parametrize(("first_load", "workers"), [(True, 0), (False, 0), (True, 2), (False, 2)])
def test_a_truncated_file_found_after_stored_batches_leaves_the_registry_as_it_was(
    session: Session, monkeypatch: pytest.MonkeyPatch, first_load: bool, workers: int
) -> None:
    if not first_load:
        import_file(session, csv_file(GOOD), "before.csv")
    before = _stored(session)
    imports = session.scalar(select(func.count()).select_from(CorporationImport))
    indexes = _indexes(session)
    monkeypatch.setattr(importer_module, "BATCH", 1)
    monkeypatch.setattr(nta, "BLOCK", 600)  # several chunks (and worker tasks)
    renamed = row(HITACHI, name="株式会社日立", process="11", changed="2024-03-29")
    rows = (row(number(1)), renamed, row(number(2)), GOOD.replace(",0\n", ",0,x\n"))
    with pytest.raises(ImportProblem, match="promises 6 rows"):
        import_file(session, csv_file(*rows, count=6), "short.csv", workers=workers)
    with pytest.raises(ImportProblem, match="truncated"):
        import_file(session, csv_file(*rows, row(number(3))[:50]), "cut.csv", workers=workers)
    assert _stored(session) == before
    assert session.scalar(select(func.count()).select_from(CorporationImport)) == imports
    assert session.scalar(select(func.count()).select_from(CorporationRejectedRow)) == 0
    assert _indexes(session) == indexes >= {"uq_corporation_record_event"}
    # The same rows, whole, then load.
    report = import_file(session, csv_file(*rows), "whole.csv")
    assert (report.inserted, report.rejected) == (3, 1)
    assert as_of(session, HITACHI).name == "株式会社日立"


@pytest.mark.parametrize(("first_load", "workers"), [(True, 0), (False, 0), (True, 2), (False, 2)])
def test_repeated_and_conflicting_rows_across_batches(
    session: Session, monkeypatch: pytest.MonkeyPatch, first_load: bool, workers: int
) -> None:
    if not first_load:
        import_file(session, csv_file(row(number(9))), "other.csv")
    monkeypatch.setattr(importer_module, "BATCH", 1)
    monkeypatch.setattr(nta, "BLOCK", 700)
    renamed = row(HITACHI, name="株式会社日立", process="11", changed="2024-03-29")
    conflicting = GOOD.replace("丸の内１丁目６番６号", "丸の内１丁目６番７号")
    data = csv_file(renamed, GOOD, row(number(1)), GOOD, conflicting, GOOD)
    report = import_file(session, data, "repeats.csv", workers=workers)
    assert (report.read, report.inserted, report.unchanged, report.rejected) == (6, 3, 2, 1)
    assert report.problems == [
        (6, f"conflicting history: {HITACHI} process 01 changed 2015-10-05 updated 2018-05-11 "
            "is already stored with other content"),
    ]  # fmt: skip
    rows = history(session, HITACHI)
    names = [(r.name, r.current) for r in rows]
    assert names == [("株式会社日立製作所", False), ("株式会社日立", True)]
    assert "uq_corporation_record_event" in _indexes(session)
    events = events_for(session, "corporation.record", HITACHI)
    if first_load:
        assert events == []
    else:  # one event per corporation whose current row changed, whatever the batches
        assert [(e.topic, e.data["before"], e.data["after"]["name"]) for e in events] == [
            ("corporation.record.renamed", None, "株式会社日立")
        ]
    kept = session.scalars(select(CorporationRejectedRow.raw)).one()
    assert "丸の内１丁目６番７号" in kept and "'corporate_number': '7010001008844'" in kept


def test_a_path_imports_as_its_bytes_do_and_progress_counts_every_row(
    session: Session, tmp_path: Path
) -> None:
    data = csv_file(GOOD, row(number(1)), GOOD.replace(",0\n", ",0,x\n"))
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    counted: list[int] = []
    from_path = import_file(session, path, "file.csv", progress=counted.append)
    assert sum(counted) == 3 and from_path.inserted == 2
    again = import_file(session, data, "bytes.csv")
    assert again.already_imported
    with path.open("rb") as stream:
        assert import_file(session, stream, "stream.csv").already_imported


def test_worker_processes_only_for_large_files_on_several_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importer_module.os, "cpu_count", lambda: 8)
    assert importer_module.default_workers(importer_module.PARALLEL_MIN_BYTES - 1) == 0
    assert importer_module.default_workers(2 << 30) == importer_module.MAX_WORKERS == 4
    monkeypatch.setattr(importer_module.os, "cpu_count", lambda: 1)
    assert importer_module.default_workers(2 << 30) == 0


def test_not_an_nta_file_is_refused_with_nothing_stored(session: Session) -> None:
    with pytest.raises(ImportProblem, match="not an NTA file"):
        import_file(session, b"<html><body>no</body></html>", "page.xml")
    with pytest.raises(ImportProblem, match="not an NTA file"):
        import_file(session, csv_file(GOOD).replace(b"2024-04-01,1", b"2024-04-01,x"), "h.csv")
    assert session.scalar(select(func.count()).select_from(CorporationImport)) == 0


# The same event as GOOD with one published column changed.
EDITS = {
    "nothing": (GOOD, True),
    "latest, which ages": (GOOD.replace(",2015-10-05,1,,", ",2015-10-05,0,,"), True),
    "a close date where there was none (NULL)": (
        GOOD.replace(",1000005,,,,,,,", ",1000005,,,2024-03-31,,,,"), False),
    "the correction flag": (GOOD.replace(",01,0,2018", ",01,1,2018"), False),
    "the reading, the last text column": (GOOD.replace('"ヒタチセイサクショ"', '""'), False),
}  # fmt: skip


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("where", ["first load", "against the stored row", "within a file"])
def test_a_repeated_event_is_unchanged_only_if_every_published_column_but_latest_agrees(
    session: Session, edit: str, where: str
) -> None:
    again, same = EDITS[edit]
    if where == "against the stored row":
        import_file(session, csv_file(GOOD), "first.csv")
        later = csv_file(again).replace(b"2024-04-01", b"2024-05-01", 1)  # another file
        report = import_file(session, later, "again.csv")
    else:
        if where == "within a file":
            import_file(session, csv_file(row(number(9))), "other.csv")
        report = import_file(session, csv_file(GOOD, again), "both.csv")
    assert (report.unchanged, report.rejected) == ((1, 0) if same else (0, 1))
    if not same:
        assert "conflicting history" in report.problems[0][1]
    assert history(session, HITACHI)[0].street_number == "丸の内１丁目６番６号"
    assert len(history(session, HITACHI)) == 1


def test_the_downgrade_computes_the_row_hash_revision_0024_stored(connection: Connection) -> None:
    """Migration 0025 dropped the stored row hash; going back computes each row's hash as the
    importer of revision 0024 did. The two digests were made by that importer (b026472)."""
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    closed = GOOD.replace(",01,0,", ",21,1,").replace(
        ",1000005,,,,,,,", ",1000005,,,2024-03-31,01,,,"
    )
    import_file(session, csv_file(GOOD, closed), "two.csv")
    session.flush()
    command.downgrade(alembic_config(connection), "0024_mesh_access_version")
    stored = connection.execute(text("SELECT process, row_hash FROM corporation_record"))
    assert dict(stored.all()) == {
        "01": "90ae811b47d994e3bd4fd1690b2fa7a612fb726be8f138bb3c59e8c52eb03a63",
        "21": "fa3e495ec565a876578976d1441c095fbf029dce3ae34c258bfcd8c1f374b771",
    }
    migrate_connection(connection)
    columns = {c["name"] for c in inspect(connection).get_columns("corporation_record")}
    assert "row_hash" not in columns and "name_key" in columns


@pytest.mark.parametrize("enabled", [True, False])
def test_a_worker_chunk_pauses_the_garbage_collector_and_leaves_it_as_it_was(
    monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    during: list[bool] = []
    parse = nta.parse_chunk

    def watched(*args: object, **kwargs: object) -> object:
        during.append(gc.isenabled())
        return parse(*args, **kwargs)

    monkeypatch.setattr(nta, "parse_chunk", watched)
    data = csv_file(GOOD, row(number(1)))
    cut = data[: data.rindex(b",0\n", 0, len(data) - 1)]  # the last row without its end
    (gc.enable if enabled else gc.disable)()
    try:
        prepared = importer_module._prepare_chunk("utf-8", 0, data, True, 1, "nta", True, False)
        records = marshal.loads(prepared[2])  # noqa: S302 - our own function's bytes
        assert [r[0] for r in records] == [HITACHI, number(1)] and gc.isenabled() is enabled
        with pytest.raises(nta.TruncatedFile):  # a failing chunk leaves it as it was too
            importer_module._prepare_chunk("utf-8", 0, cut, False, 1, "nta", True, False)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
    assert during == [False, False]


def _sequential_suspects(bits: int, batches: list[list[str]]) -> list[list[str]]:
    """The bit set's meaning, one number at a time in Python: a number is a suspect if its bit
    (the top bits of the number times 2**64/φ) was set before it."""
    shift, seen, out = 64 - (bits.bit_length() - 1), set(), []
    for batch in batches:
        out.append([])
        for number in batch:
            bit = (int(number) * 0x9E3779B97F4A7C15 % 2**64) >> shift
            if bit in seen:
                out[-1].append(number)
            seen.add(bit)
    return out


@settings(deadline=None, max_examples=200)
@given(
    bits=st.sampled_from([8, 64, 1 << 12]),
    batches=st.lists(st.lists(st.integers(0, 40), max_size=30), max_size=6),
)
def test_the_bit_set_suspects_every_number_met_before_a_batch_at_a_time(
    bits: int, batches: list[list[int]]
) -> None:
    numbered = [[number(n) for n in batch] for batch in batches]
    seen = importer_module._BitSet(bits)
    got = [seen.suspects(batch) for batch in numbered]
    assert got == _sequential_suspects(bits, numbered)
    met: set[str] = set()
    for batch, suspects in zip(numbered, got, strict=True):
        repeats = [n for i, n in enumerate(batch) if n in met or n in batch[:i]]
        assert set(repeats) <= set(suspects)
        met.update(batch)


def test_a_bit_set_is_a_power_of_two_of_bits() -> None:
    with pytest.raises(ValueError, match="power of two"):
        importer_module._BitSet(1000)


def test_a_first_load_gathers_statistics_of_the_columns_queries_and_indexes_name(
    session: Session,
) -> None:
    columns = {c.name for c in importer_module.RECORDS.columns}
    for index in importer_module.RECORDS.indexes:
        where = index.dialect_options["postgresql"]["where"]
        condition = "" if where is None else str(where)
        named = {c.name for c in index.columns} | (set(re.findall(r"\w+", condition)) & columns)
        assert named <= set(importer_module.PLANNED), index.name
    import_file(session, csv_file(GOOD, row(number(1)), row(number(2))), "first.csv")
    if session.get_bind().dialect.name == "postgresql":
        analyzed = session.scalars(
            text("SELECT attname FROM pg_stats WHERE tablename = 'corporation_record'")
        )
        assert set(analyzed) == set(importer_module.PLANNED)


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Text with line ends, and the byte sequences where validators differ: surrogates (ED A0 80),
# overlong forms (C0 AF, E0 80 AF), beyond U+10FFFF (F4 90 80 80), truncated sequences.
_PIECES = st.one_of(
    st.text(max_size=20).map(str.encode),
    st.sampled_from([b"\n", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80",
                     b"\xe6\x97", b"\x80", b"\xff", "日立".encode("cp932")]),
)  # fmt: skip


@pytest.mark.parametrize("arrow", [True, False])
@settings(deadline=None, max_examples=300)
@given(pieces=st.lists(_PIECES, max_size=12), cuts=st.lists(st.integers(0, 200), max_size=4))
def test_the_utf8_check_agrees_with_python_whatever_the_blocks(
    arrow: bool, pieces: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(pieces)
    check = importer_module._Utf8Check(arrow=arrow)
    at = 0
    for cut in sorted(min(c, len(data)) for c in cuts):
        check.feed(data[at:cut])
        at = max(at, cut)
    check.feed(data[at:])
    assert check.finish() == _decodes(data)


@pytest.mark.parametrize("large", [True, False])
def test_the_survey_hashes_the_rest_of_the_stream_and_leaves_it_there(large: bool) -> None:
    data = csv_file(GOOD, row(number(1)))
    stream = io.BytesIO(b"ignored" + data)
    stream.seek(7)
    assert importer_module._survey(stream, large=large) == (hashlib.sha256(data).hexdigest(), True)
    assert stream.tell() == 7
    sjis = io.BytesIO(data.replace("日立製作所".encode(), "日立製作所".encode("cp932")))
    assert importer_module._survey(sjis, large=large)[1] is False


def test_an_import_with_workers_of_a_file_already_imported_stops_them(session: Session) -> None:
    data = csv_file(GOOD, row(number(1)))
    assert import_file(session, data, "a.csv", workers=2).inserted == 2
    again = import_file(session, data, "b.csv", workers=2)
    assert again.already_imported and again.read == 0
    assert multiprocessing.active_children() == []


def test_a_small_file_is_imported_without_loading_arrow(tmp_path: Path) -> None:
    """Arrow (about 45 MB) is for large files and PostgreSQL's worker processes only: the web
    app and the CLI importing a small file do not load it."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sqlalchemy.orm import Session\n"
        "from tsunagu.db import make_engine, migrate\n"
        "from tsunagu.registries.corporations import import_file\n"
        f"engine = make_engine('sqlite:///{tmp_path / 'small.sqlite3'}')\n"
        "migrate(engine)\n"
        "with Session(engine) as session:\n"
        f"    report = import_file(session, Path({str(NTA / 'name_ver4_c4.csv')!r}), 'c4.csv')\n"
        "    session.commit()\n"
        "assert report.inserted > 0, report.summary()\n"
        "print(sorted(m for m in ('pyarrow', 'pgpq') if m in sys.modules))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_the_workers_end_before_the_indexes_are_built(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle worker processes would hold their memory through a first load's index builds."""
    alive: list[int] = []
    finish = importer_module._FirstLoad.finish

    def counting(self: Any, *args: Any) -> Any:
        alive.append(len(multiprocessing.active_children()))
        return finish(self, *args)

    monkeypatch.setattr(importer_module._FirstLoad, "finish", counting)
    monkeypatch.setattr(nta, "BLOCK", 600)  # several chunks
    data = csv_file(*(row(number(n)) for n in range(1, 9)))
    assert import_file(session, data, "eight.csv", workers=2).inserted == 8
    assert alive == [0]
