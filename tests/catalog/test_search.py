"""Search behaviour on the real database (the suite runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller
from tsunagu.catalog import (
    SearchQuery,
    create_dataset,
    delete_dataset,
    get_datasets,
    parse_dataset,
    parse_fq,
    search_datasets,
)
from tsunagu.kernel import ValidationProblem

DATASETS: list[dict[str, Any]] = [
    {"name": "population-2024", "title": "人口統計（令和6年）", "notes": "区市町村別の人口と世帯数",
     "tags": [{"name": "人口"}], "resources": [{"name": "人口表", "format": "CSV"}],
     "license_id": "cc-by-4.0", "municipalities": ["131016"]},
    {"name": "tax-revenue", "title": "都税収入の推移", "notes": "税目別の収入額",
     "tags": [{"name": "財政"}], "resources": [{"name": "収入", "format": "XLSX"}],
     "license_id": "cc-by-4.0"},
    {"name": "bus-stops", "title": "都営バス停留所一覧", "notes": "停留所の位置情報",
     "tags": [{"name": "交通"}], "resources": [{"name": "停留所", "format": "CSV"}],
     "license_id": "gov-std-2.0", "municipalities": ["131016", "131024"]},
    {"name": "aed-list", "title": "AED設置箇所一覧", "notes": "Automated External Defibrillator",
     "resources": [{"format": "csv"}], "license_id": "cc-zero"},
]  # fmt: skip


@pytest.fixture
def catalog(session: Session, org_token: tuple[Caller, str]) -> Caller:
    caller = org_token[0]
    for data in DATASETS:
        create_dataset(
            session, caller, parse_dataset({**data, "owner_org": caller.organization_name})
        )
    session.commit()
    return caller


def names(session: Session, **query: Any) -> list[str]:
    result = search_datasets(session, SearchQuery(**query))
    return [d.name for d in get_datasets(session, result.dataset_pks)]


@pytest.mark.usefixtures("catalog")
class TestJapaneseQueries:
    def test_two_character_query_finds_its_word(self, session: Session) -> None:
        assert names(session, q="人口") == ["population-2024"]

    def test_one_character_query_finds_the_character_anywhere(self, session: Session) -> None:
        assert set(names(session, q="税")) == {"tax-revenue"}

    def test_katakana_word_in_the_middle_of_a_title(self, session: Session) -> None:
        assert names(session, q="バス") == ["bus-stops"]

    def test_longer_query_needs_every_bigram(self, session: Session) -> None:
        assert names(session, q="停留所一覧") == ["bus-stops"]
        assert names(session, q="人口一覧") == []

    def test_ascii_word_is_case_and_width_insensitive(self, session: Session) -> None:
        assert names(session, q="ａｅｄ") == ["aed-list"]
        assert names(session, q="defibrillator") == ["aed-list"]

    def test_several_terms_are_anded(self, session: Session) -> None:
        assert names(session, q="都 収入") == ["tax-revenue"]

    @pytest.mark.parametrize("q", ['"', "*", "NEAR", "'", '人口"', "税*", "AND OR NOT", "(バス"])
    def test_fts_syntax_is_plain_text(self, session: Session, q: str) -> None:
        search_datasets(session, SearchQuery(q=q))  # must not raise a database error

    def test_title_match_ranks_above_description_match(self, session: Session) -> None:
        assert names(session, q="停留所")[0] == "bus-stops"
        assert names(session, q="収入")[0] == "tax-revenue"


@pytest.mark.usefixtures("catalog")
class TestFacetsAndFilters:
    def test_facet_counts(self, session: Session) -> None:
        result = search_datasets(
            session, SearchQuery(facet_fields=("res_format", "license_id", "municipality"))
        )
        assert result.count == 4
        assert dict(result.facets["res_format"]) == {"CSV": 3, "XLSX": 1}
        assert result.facets["license_id"][0] == ("cc-by-4.0", 2)
        assert dict(result.facets["municipality"]) == {"131016": 2, "131024": 1}

    def test_fq_filters_by_facet_value(self, session: Session) -> None:
        q = SearchQuery(filters=parse_fq('res_format:CSV municipality:"131016"'), sort="name")
        assert names(session, **q.__dict__) == ["bus-stops", "population-2024"]

    def test_unknown_fq_field_is_an_error(self) -> None:
        with pytest.raises(ValidationProblem, match="unknown fq field"):
            parse_fq("secret:1")

    def test_unknown_facet_field_is_an_error(self, session: Session) -> None:
        with pytest.raises(ValidationProblem, match="unknown facet field"):
            search_datasets(session, SearchQuery(facet_fields=("password",)))

    def test_rows_over_1000_is_an_error(self, session: Session) -> None:
        with pytest.raises(ValidationProblem, match="rows"):
            search_datasets(session, SearchQuery(rows=1001))

    def test_paging_and_total(self, session: Session) -> None:
        first = search_datasets(session, SearchQuery(sort="name", rows=3))
        second = search_datasets(session, SearchQuery(sort="name", rows=3, start=3))
        assert first.count == second.count == 4
        assert len(first.dataset_pks) == 3 and len(second.dataset_pks) == 1
        assert not set(first.dataset_pks) & set(second.dataset_pks)

    def test_title_sort_is_codepoint_order(self, session: Session) -> None:
        assert names(session, sort="title") == [
            "aed-list",
            "population-2024",
            "bus-stops",
            "tax-revenue",
        ]  # 人 U+4EBA < 都営 U+90FD U+55B6 < 都税 U+90FD U+7A0E

    def test_deleted_datasets_disappear(self, session: Session, catalog: Caller) -> None:
        delete_dataset(session, catalog, "bus-stops")
        assert names(session, q="バス") == []


def test_private_dataset_is_visible_only_to_its_organization(
    session: Session, org_token: tuple[Caller, str]
) -> None:
    caller = org_token[0]
    create_dataset(session, caller, parse_dataset(
        {"name": "internal", "title": "内部資料", "owner_org": caller.organization_name,
         "private": True}))  # fmt: skip
    assert names(session, q="内部") == []
    assert names(session, q="内部", private_org_ids=(caller.organization_id,)) == ["internal"]
