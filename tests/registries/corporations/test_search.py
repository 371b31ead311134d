"""Name search: the indexed UNION search returns what a plain query over every match returns."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date

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
            hihyoji=rng.random() < 0.1, row_hash=f"{seq}",
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


def test_each_range_reads_its_partial_index(session: Session, generated: None) -> None:
    """The page and count queries of a search by name and reading use the search indexes
    (their WHERE spelled as the indexes' are; SQLite needs the terms literally)."""
    from sqlalchemy import event

    connection = session.connection()
    statements: list[tuple[str, object]] = []

    def seen(conn: object, cursor: object, statement: str, parameters: object, *_: object) -> None:
        statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", seen)
    try:
        search_by_name(session, "ヤマ", limit=5)
    finally:
        event.remove(connection, "before_cursor_execute", seen)
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
