"""Name search: the indexed UNION search returns what a plain query over every match returns."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from tsunagu.kernel import ValidationProblem
from tsunagu.registries.corporations import search_by_name, services
from tsunagu.registries.corporations.models import CorporationRecord
from tsunagu.registries.corporations.normalize import furigana_key, name_key

# Names and readings of two or three parts, so that prefixes of one part match many rows, some
# rows match by reading only (カブシキ… reading of a kanji name) and some by both.
PARTS = [("山田", "ヤマダ"), ("山本", "ヤマモト"), ("日本", "ニホン"), ("ヤマト", "ヤマト"),
         ("にほん", "ニホン"), ("東京", "トウキョウ"), ("ABC", "エービーシー"),
         ("abc", "エービーシー")]  # fmt: skip
FORMS = ["株式会社", "合同会社", ""]


def _records(count: int) -> list[CorporationRecord]:
    rng = random.Random(5)
    out = []
    for seq in range(count):
        picked = [rng.choice(PARTS) for _ in range(rng.randint(1, 3))]
        name = rng.choice(FORMS) + "".join(p[0] for p in picked)
        reading = "".join(p[1] for p in picked) if rng.random() < 0.7 else ""
        # Some numbers repeat a name key, so that the number breaks ties.
        out.append(CorporationRecord(
            corporate_number=f"9{seq:012d}", process="01", correct=False,
            update_date=date(2024, 1, 1), change_date=date(2024, 1, 1), name=name, kind="301",
            latest=True, furigana=reading, name_key=name_key(name),
            furigana_key=furigana_key(reading), current=rng.random() < 0.85,
            hihyoji=rng.random() < 0.1,
            close_date=date(2024, 6, 1) if rng.random() < 0.15 else None,
        ))  # fmt: skip
    return out


def _reference(
    session: Session, name: str, include_closed: bool, limit: int, offset: int
) -> tuple[int, list[str]]:
    """The search as it was before issue #5: an OR of both ranges, counted and sorted whole."""
    key, kana = name_key(name), furigana_key(name)
    rec = CorporationRecord

    def prefix(column: object, value: str) -> object:
        return and_(column >= value, column < value + "\U0010ffff")  # type: ignore[operator]

    query = select(rec).where(
        rec.current.is_(True), rec.hihyoji.is_(False),
        or_(prefix(rec.name_key, key), prefix(rec.furigana_key, kana)),  # type: ignore[arg-type]
    )  # fmt: skip
    if not include_closed:
        query = query.where(rec.close_date.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(rec.name_key, rec.corporate_number).limit(limit).offset(offset)
    ).all()
    return total, [r.corporate_number for r in rows]


def _numbers(rows: Sequence[CorporationRecord]) -> list[str]:
    return [r.corporate_number for r in rows]


@pytest.fixture
def generated(session: Session) -> None:
    session.add_all(_records(400))
    session.flush()


@pytest.mark.parametrize("query", ["山", "山田", "ヤマ", "やま", "ニホン", "日本", "ｱﾞ", "ABC",
                                   "株式会社東京", "トウキョウ", "ない"])  # fmt: skip
@pytest.mark.parametrize("include_closed", [True, False])
def test_search_returns_what_the_plain_query_returns(
    session: Session, generated: None, query: str, include_closed: bool
) -> None:
    for limit, offset in [(20, 0), (7, 0), (7, 7), (7, 30), (100, 3), (5, 500)]:
        want_total, want = _reference(session, query, include_closed, limit, offset)
        got = search_by_name(session, query, include_closed=include_closed, limit=limit,
                             offset=offset)  # fmt: skip
        assert (got.total, _numbers(got.rows)) == (want_total, want), (query, limit, offset)
        assert got.total_capped is False


def test_generated_rows_exercise_every_case(session: Session, generated: None) -> None:
    # The comparison above means something only if the data has these cases.
    rec = CorporationRecord
    listed = select(func.count()).where(rec.current.is_(True), rec.hihyoji.is_(False))
    by_reading_only = listed.where(rec.furigana_key.startswith("ヤマ"),
                                   ~rec.name_key.startswith("ヤマ"))  # fmt: skip
    assert (session.scalar(by_reading_only) or 0) > 10
    assert (session.scalar(select(func.count()).where(rec.hihyoji.is_(True))) or 0) > 10
    assert (session.scalar(select(func.count()).where(rec.current.is_(False))) or 0) > 10
    assert (session.scalar(listed.where(rec.close_date.is_not(None))) or 0) > 10
    assert search_by_name(session, "山", limit=1).total > 50


def test_count_stops_at_the_cap(
    session: Session, generated: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    want_total, want = _reference(session, "山", True, 10, 0)
    monkeypatch.setattr(services, "COUNT_CAP", 30)
    got = search_by_name(session, "山", limit=10)
    assert want_total > 30
    assert (got.total, got.total_capped, _numbers(got.rows)) == (30, True, want)
    small_total, _ = _reference(session, "東京", True, 10, 0)
    monkeypatch.setattr(services, "COUNT_CAP", small_total)
    exact = search_by_name(session, "東京", limit=10)
    assert (exact.total, exact.total_capped) == (small_total, False)


def test_matching_both_name_and_reading_counts_once(session: Session) -> None:
    rec = _records(1)[0]
    rec.name, rec.name_key, rec.furigana, rec.furigana_key = "ヤマト", "ヤマト", "ヤマト", "ヤマト"
    rec.current, rec.hihyoji, rec.close_date = True, False, None
    session.add(rec)
    session.flush()
    got = search_by_name(session, "ヤマ")
    assert (got.total, _numbers(got.rows)) == (1, [rec.corporate_number])


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (10, -1)])
def test_bad_paging_is_rejected(session: Session, limit: int, offset: int) -> None:
    with pytest.raises(ValidationProblem):
        search_by_name(session, "山田", limit=limit, offset=offset)


def test_api_says_when_the_total_is_capped(
    client: TestClient, session: Session, generated: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = client.get("/api/v1/corporations", params={"name": "山", "limit": 5}).json()
    assert body["total_capped"] is False and body["total"] > 30 and len(body["items"]) == 5
    monkeypatch.setattr(services, "COUNT_CAP", 30)
    body = client.get("/api/v1/corporations", params={"name": "山", "limit": 5}).json()
    assert (body["total"], body["total_capped"], len(body["items"])) == (30, True, 5)


def test_a_name_without_a_reading_key_does_not_match_every_reading(
    session: Session, generated: None
) -> None:
    # "ー" keeps a name key but has no reading key; the previous query's range from "" on the
    # reading matched every row that has one.
    assert (name_key("ー"), furigana_key("ー")) == ("ー", "")
    assert _reference(session, "ー", True, 20, 0)[0] > 50
    got = search_by_name(session, "ー")
    assert (got.total, got.rows) == (0, [])


def _sent(session: Session, search: Callable[[], object]) -> list[tuple[str, Any]]:
    """The statements (with their parameters) that ``search()`` sends to the database."""
    from sqlalchemy import event

    connection = session.connection()
    statements: list[tuple[str, Any]] = []

    def seen(conn: object, cursor: object, statement: str, parameters: Any, *_: object) -> None:
        statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", seen)
    try:
        search()
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    return statements


def test_each_range_reads_its_partial_index(session: Session, generated: None) -> None:
    """The page and count queries of a search by name and reading use the search indexes
    (their WHERE spelled as the indexes' are; SQLite needs the terms literally)."""
    connection = session.connection()
    statements = _sent(session, lambda: search_by_name(session, "ヤマ", limit=5))
    postgres = connection.dialect.name == "postgresql"
    if postgres:  # on 400 rows a scan is cheaper; the question is whether the index can serve
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    plans = " ".join(
        str(row)
        for statement, parameters in statements
        if "furigana_key" in statement and "corporation_record" in statement
        for row in connection.exec_driver_sql(explain + statement, parameters)  # type: ignore[arg-type]
    )
    if postgres:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
    assert "ix_corporation_record_search_furigana" in plans
    assert "ix_corporation_record_search_name" in plans


# Names as the registry has them: Latin and katakana names sort before kanji ones, and a kanji
# name's reading says nothing of where it sorts — so the first matches of a reading prefix in
# name order lie far apart in the name index, and most of them are not matches of the name.
DENSE = [("yamato", "ヤマト"), ("abc", "エービーシー"), ("ヤマハ", "ヤマハ"), ("ヤギ", "ヤギ"),
         ("アイ", "アイ"), ("八木", "ヤギ"), ("大和", "ヤマト"), ("安田", "ヤスダ"),
         ("山田", "ヤマダ"), ("山本", "ヤマモト"), ("矢野", "ヤノ"), ("日本", "ニホン"),
         ("東京", "トウキョウ"), ("愛知", "アイチ")]  # fmt: skip


def _dense_records(count: int) -> list[CorporationRecord]:
    """Listed rows, most read ヤ…; each with an earlier, no longer current row of the same
    number and name key (a move), which a search must not return."""
    rng = random.Random(7)
    out = []
    for seq in range(count):
        first, rest = rng.choice(DENSE), rng.choice(DENSE)
        name = rng.choice(FORMS) + first[0] + rest[0]
        reading = first[1] + rest[1] if rng.random() < 0.7 else ""
        for process, current in (("12", False), ("01", rng.random() < 0.95)):
            out.append(CorporationRecord(
                corporate_number=f"8{seq:012d}", process=process, correct=False,
                update_date=date(2024, 1, 1), change_date=date(2020 + len(process), 1, 1),
                name=name, kind="301", latest=current, furigana=reading,
                name_key=name_key(name), furigana_key=furigana_key(reading), current=current,
                hihyoji=current and rng.random() < 0.05,
                close_date=date(2024, 6, 1) if rng.random() < 0.1 else None,
            ))  # fmt: skip
    return out


def _sorted_in_python(
    records: Sequence[CorporationRecord], name: str, include_closed: bool
) -> list[str]:
    """Every match, as the search defines it, in (name key, number) order — without SQL."""
    key, kana = name_key(name), furigana_key(name)
    return [
        r.corporate_number
        for r in sorted(records, key=lambda r: (r.name_key, r.corporate_number))
        if r.current
        and not r.hihyoji
        and (include_closed or r.close_date is None)
        and (r.name_key.startswith(key) or (kana != "" and r.furigana_key.startswith(kana)))
    ]


@pytest.mark.parametrize("query", ["ヤ", "や", "ヤマ", "ヤマト", "ア", "アイ", "ニホン"])
@pytest.mark.parametrize("include_closed", [True, False])
def test_a_reading_prefix_matching_many_returns_every_page_in_name_order(
    session: Session, monkeypatch: pytest.MonkeyPatch, query: str, include_closed: bool
) -> None:
    records = _dense_records(600)
    session.add_all(records)
    session.flush()
    want = _sorted_in_python(records, query, include_closed)
    if query == "ヤ" and include_closed:  # the case: hundreds of matches, most by reading only
        by_name = [r for r in records if r.current and r.name_key.startswith("ヤ")]
        assert len(want) > 200 and len(by_name) < len(want) / 2
    for cap in (services.COUNT_CAP, 40):
        monkeypatch.setattr(services, "COUNT_CAP", cap)
        for limit, offset in [(20, 0), (7, 0), (7, 7), (13, 40), (100, 150), (50, len(want) - 20),
                              (10, len(want))]:  # fmt: skip
            got = search_by_name(session, query, include_closed=include_closed, limit=limit,
                                 offset=offset)  # fmt: skip
            assert _numbers(got.rows) == want[offset : offset + limit], (cap, limit, offset)
            assert (got.total, got.total_capped) == (min(len(want), cap), len(want) > cap)
            assert _reference(session, query, include_closed, limit, offset) == (
                len(want),
                want[offset : offset + limit],
            )


def test_the_reading_range_is_not_walked_in_name_order(session: Session) -> None:
    """The reading range is read from its own index (then sorted), never by walking the name
    index whole and filtering on the reading: the page's rows lie anywhere in that index.

    Sorting is priced out on PostgreSQL so that it walks an index wherever it can (as it did at
    1,000,000 rows); SQLite's plan says SCAN for an index read whole, SEARCH for a range."""
    session.add_all(_dense_records(200))
    session.flush()
    connection = session.connection()
    statements = _sent(session, lambda: search_by_name(session, "ヤマ", limit=5, offset=3))
    scans: list[tuple[str, str]] = []  # (index, its condition or WHOLE)

    def nodes(plan: dict[str, Any]) -> None:
        if "Index Name" in plan:
            scans.append((plan["Index Name"], plan.get("Index Cond", "WHOLE")))
        for child in plan.get("Plans", []):
            nodes(child)

    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
    for statement, parameters in statements:
        if postgres:
            plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            value = plan.scalar_one()
            nodes((json.loads(value) if isinstance(value, str) else value)[0]["Plan"])
            continue
        for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters):
            detail = str(row[3])
            if " USING INDEX " in detail:
                index = detail.split(" USING INDEX ")[1].split(" ")[0]
                scans.append((index, "WHOLE" if detail.startswith("SCAN") else detail))
    if postgres:
        connection.exec_driver_sql("SET LOCAL enable_sort = on")
        connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
    assert "ix_corporation_record_search_furigana" in {index for index, _ in scans}, scans
    assert all(how != "WHOLE" for _, how in scans), scans


def test_only_rows_with_the_reading_are_found_by_it(session: Session) -> None:
    # Two listed rows with one number and name key (imports keep one current row per number,
    # but nothing in the table says so), only one with the reading: the other matches nothing.
    read, unread = _records(2)
    for rec in (read, unread):
        rec.corporate_number, rec.name, rec.name_key = "9000000000001", "山田商事", "山田商事"
        rec.current, rec.hihyoji, rec.close_date = True, False, None
    read.furigana, read.furigana_key = "ヤマダショウジ", "ヤマダショウジ"
    unread.furigana, unread.furigana_key, unread.process = "", "", "12"
    session.add_all([read, unread])
    session.flush()
    got = search_by_name(session, "ヤマダ")
    assert (got.total, [r.id for r in got.rows]) == (1, [read.id])
