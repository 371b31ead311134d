"""The tantivy engine answers exactly as the database does, and follows its committed writes.

Runs on the suite's database (SQLite, or PostgreSQL with TSUNAGU_TEST_DATABASE_URL), on a
database of its own with committed data: the tantivy index only ever holds committed changes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.catalog.test_search_parity import build
from tests.conftest import migrated_engine
from tsunagu.accounts import Caller, Organization, create_organization
from tsunagu.catalog import (
    SearchQuery,
    create_dataset,
    delete_dataset,
    parse_dataset,
    parse_fq,
    search_datasets,
    update_dataset,
)
from tsunagu.catalog.search import SEARCH_ENGINE_KEY, search_database
from tsunagu.catalog.search_tantivy import TantivySearch
from tsunagu.kernel import ValidationProblem


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The parity catalog (300 datasets, committed) plus private datasets of a second org."""
    with migrated_engine(tmp_path_factory.mktemp("tantivy-db"), "tantivy") as engine:
        build(engine)
        with Session(engine) as session:
            org = create_organization(session, "other", "別の組織")
            caller = Caller(org.id, org.name, 0)
            for i in range(5):
                data = {"name": f"private-{i}", "title": f"非公開の人口統計{i}",
                        "owner_org": "other", "private": True, "tags": [{"name": "人口"}],
                        "resources": [{"format": "CSV"}]}  # fmt: skip
                create_dataset(session, caller, parse_dataset(data))
            session.commit()
        yield engine


@pytest.fixture(scope="module")
def tantivy_search(catalog: Engine, tmp_path_factory: pytest.TempPathFactory) -> TantivySearch:
    return TantivySearch(tmp_path_factory.mktemp("tantivy-index") / "search")


def both(engine: Engine, search: TantivySearch, query: SearchQuery) -> list[Any]:
    answers = []
    with Session(engine) as session:
        for result in (search_database(session, query), search.search(session, query)):
            answers.append((result.count, result.dataset_pks, result.facets))
    return answers


QUERIES = ["", "税", "市", "区", "人口", "バス", "保育", "避難所", "介護保険", "世帯 統計",
           "aed", "wi", "ＡＥＤ", '"人口"', "令和5年度", "存在しない語", "*", "(バス"]  # fmt: skip
FILTERS = ["", "res_format:CSV", 'license_id:"cc-by-4.0" tags:人口', "municipality:131016",
           "organization:parity", "organization:nobody"]  # fmt: skip
FACETS = ("organization", "groups", "tags", "res_format", "license_id", "municipality")


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("fq", FILTERS)
@pytest.mark.parametrize("sort", ["name", "title", "modified"])
def test_same_hits_counts_and_facets(
    catalog: Engine, tantivy_search: TantivySearch, q: str, fq: str, sort: str
) -> None:
    query = SearchQuery(q=q, filters=parse_fq(fq), facet_fields=FACETS, rows=1000, sort=sort)
    database, tantivy = both(catalog, tantivy_search, query)
    assert tantivy == database


@pytest.mark.parametrize("q", ["", "市", "人口", "介護保険"])
def test_relevance_finds_the_same_hits_and_breaks_ties_by_modified_then_pk(
    catalog: Engine, tantivy_search: TantivySearch, q: str
) -> None:
    query = SearchQuery(q=q, facet_fields=FACETS, facet_limit=3, rows=1000)
    database, tantivy = both(catalog, tantivy_search, query)
    assert tantivy[0] == database[0] and tantivy[2] == database[2]
    assert sorted(tantivy[1]) == sorted(database[1])
    if not q:  # no score: both order by metadata_modified desc, pk desc
        assert tantivy[1] == database[1]


@pytest.mark.parametrize("sort", ["relevance", "name", "title", "modified"])
@pytest.mark.parametrize(("start", "rows"), [(0, 0), (0, 1), (0, 7), (7, 13), (290, 20)])
def test_pages_are_slices_of_the_full_order(
    catalog: Engine, tantivy_search: TantivySearch, sort: str, start: int, rows: int
) -> None:
    full = both(catalog, tantivy_search, SearchQuery(q="市", sort=sort, rows=1000))[1]
    page = both(catalog, tantivy_search, SearchQuery(q="市", sort=sort, rows=rows, start=start))
    assert page[1][1] == full[1][start : start + rows]
    assert page[1][0] == full[0]
    if sort != "relevance":
        assert page[0][1] == page[1][1]


@pytest.mark.parametrize("private_orgs", [False, True])
def test_private_datasets_only_for_their_organization(
    catalog: Engine, tantivy_search: TantivySearch, private_orgs: bool
) -> None:
    with Session(catalog) as session:
        other = session.scalar(select(Organization.id).where(Organization.name == "other"))
    assert other is not None
    orgs = (other,) if private_orgs else ()
    query = SearchQuery(q="人口", private_org_ids=orgs, sort="name", rows=1000,
                        facet_fields=FACETS)  # fmt: skip
    database, tantivy = both(catalog, tantivy_search, query)
    assert tantivy == database
    with Session(catalog) as session:
        named = [session.get_one(_dataset(), pk).name for pk in tantivy[1]]
    assert any(n.startswith("private-") for n in named) is private_orgs


def _dataset() -> Any:
    from tsunagu.catalog.models import Dataset

    return Dataset


@pytest.mark.parametrize(
    "query",
    [SearchQuery(rows=1001), SearchQuery(start=-1), SearchQuery(facet_fields=("nope",)),
     SearchQuery(sort="random()"), SearchQuery(q="x" * 201),
     SearchQuery(q=" ".join(f"w{i}" for i in range(41)))],
)  # fmt: skip
def test_bad_input_is_rejected_the_same(
    catalog: Engine, tantivy_search: TantivySearch, query: SearchQuery
) -> None:
    errors = []
    with Session(catalog) as session:
        for engine in (None, tantivy_search):
            session.info[SEARCH_ENGINE_KEY] = engine
            with pytest.raises(ValidationProblem) as caught:
                search_datasets(session, query)
            errors.append((caught.value.detail, caught.value.field))
    assert errors[0] == errors[1]


# ------------------------------------------------------------------ following the database


@pytest.fixture
def writable(tmp_path: Path) -> Iterator[tuple[Engine, Caller]]:
    with migrated_engine(tmp_path, "tantivy-rw") as engine, Session(engine) as session:
        org = create_organization(session, "writer", "書き込み市")
        session.commit()
        yield engine, Caller(org.id, org.name, 0)


def _data(name: str, title: str, **extra: Any) -> Any:
    return parse_dataset({"name": name, "title": title, "owner_org": "writer",
                          "resources": [{"format": "CSV"}], **extra})  # fmt: skip


def _names(engine: Engine, search: TantivySearch, q: str) -> list[str]:
    with Session(engine) as session:
        session.info[SEARCH_ENGINE_KEY] = search
        result = search_datasets(session, SearchQuery(q=q, sort="name", rows=1000))
        assert result == search_database(session, SearchQuery(q=q, sort="name", rows=1000))
        active = session.scalar(select(func.count()).select_from(_dataset()).where(
            _dataset().state == "active"))  # fmt: skip
        assert search.index.searcher().num_docs == active + 1  # datasets and the position
        return [session.get_one(_dataset(), pk).name for pk in result.dataset_pks]


def test_creates_updates_and_deletes_show_on_the_next_query(
    writable: tuple[Engine, Caller], tmp_path: Path
) -> None:
    engine, caller = writable
    search = TantivySearch(tmp_path / "search")
    assert _names(engine, search, "図書館") == []  # first use builds the (empty) index
    with Session(engine) as session:
        create_dataset(session, caller, _data("library", "図書館の一覧"))
        create_dataset(session, caller, _data("park", "公園の一覧"))
        session.commit()
    assert _names(engine, search, "図書館") == ["library"]
    assert _names(engine, search, "一覧") == ["library", "park"]
    with Session(engine) as session:
        update_dataset(session, caller, "library", _data("library", "中央図書館の蔵書"))
        delete_dataset(session, caller, "park")
        session.commit()
    assert _names(engine, search, "一覧") == []
    assert _names(engine, search, "蔵書") == ["library"]
    with Session(engine) as session:
        assert search.search(session, SearchQuery(facet_fields=("res_format",))).facets == {
            "res_format": [("CSV", 1)]
        }


def test_a_transaction_reads_its_own_uncommitted_writes(
    writable: tuple[Engine, Caller], tmp_path: Path
) -> None:
    engine, caller = writable
    search = TantivySearch(tmp_path / "search")
    with Session(engine) as session:
        session.info[SEARCH_ENGINE_KEY] = search
        create_dataset(session, caller, _data("draft", "下書きの公園"))
        session.flush()
        assert search_datasets(session, SearchQuery(q="公園")).count == 1  # the database answers
        session.rollback()
    assert _names(engine, search, "公園") == []  # and the index never saw it


def test_two_processes_sharing_one_database_catch_up(
    writable: tuple[Engine, Caller], tmp_path: Path
) -> None:
    engine, caller = writable
    first, second = TantivySearch(tmp_path / "a"), TantivySearch(tmp_path / "b")
    assert _names(engine, first, "駅") == _names(engine, second, "駅") == []
    with Session(engine) as session:
        first_result = create_dataset(session, caller, _data("station", "駅の乗降客数"))
        session.commit()
        assert first_result.pk
    assert _names(engine, second, "駅") == ["station"]
    assert _names(engine, first, "駅") == ["station"]
    with Session(engine) as session:
        delete_dataset(session, caller, "station")
        session.commit()
    assert _names(engine, first, "駅") == _names(engine, second, "駅") == []


def test_two_instances_sharing_one_directory_take_turns(
    writable: tuple[Engine, Caller], tmp_path: Path
) -> None:
    engine, caller = writable
    first, second = TantivySearch(tmp_path / "s"), TantivySearch(tmp_path / "s")
    assert _names(engine, first, "橋") == []
    for i, search in enumerate((first, second, first, second)):
        with Session(engine) as session:
            create_dataset(session, caller, _data(f"bridge-{i}", f"橋梁点検{i}"))
            session.commit()
        assert len(_names(engine, search, "橋")) == i + 1


def test_rebuild_from_scratch(writable: tuple[Engine, Caller], tmp_path: Path) -> None:
    engine, caller = writable
    with Session(engine) as session:
        for i in range(3):
            create_dataset(session, caller, _data(f"river-{i}", f"河川の水位{i}"))
        session.commit()
    search = TantivySearch(tmp_path / "search")
    counted: list[int] = []
    assert search.rebuild(engine, progress=counted.append) == 3 and sum(counted) == 3
    assert _names(engine, search, "河川") == ["river-0", "river-1", "river-2"]
    shutil.rmtree(tmp_path / "search")  # lost index files: a new instance builds them again
    assert _names(engine, TantivySearch(tmp_path / "search"), "水位") == [
        "river-0", "river-1", "river-2",
    ]  # fmt: skip
