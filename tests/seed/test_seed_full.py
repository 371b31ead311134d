"""The whole seed loaded once per run into a database of its own (slow part of the suite)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tsunagu.accounts import Organization
from tsunagu.catalog import (
    CodeList,
    CodeListEntry,
    DataElement,
    Dataset,
    DatasetMunicipality,
    Distribution,
    Group,
    SearchQuery,
    Source,
    get_dataset,
    search_datasets,
)
from tsunagu.seed import load_seed, seed_if_empty, sources

TABLES = (Dataset, Distribution, Organization, Group, DatasetMunicipality, DataElement,
          CodeList, CodeListEntry, Source)  # fmt: skip


def _raw_tokyo() -> list[dict[str, Any]]:
    with gzip.open(sources.TOKYO_DUMP, "rt", encoding="utf-8") as fh:
        return [json.loads(line)["result"] for line in fh]


def _row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}


@pytest.fixture(scope="module")
def seeded(live_engine: Engine) -> tuple[Engine, dict[str, int]]:
    """The full seed, loaded once per module into the module's own database."""
    return live_engine, load_seed(live_engine)


def test_tokyo_dump_counts_and_the_exact_difference(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, counts = seeded
    raw = _raw_tokyo()
    assert len(raw) == 5077
    assert sum(len(p["resources"]) for p in raw) == 58187
    assert len({p["organization"]["name"] for p in raw}) == 69
    # 232 names occur twice (deleted and re-created on the portal between 2019 and 2022): the
    # copy with the newer metadata_modified is kept. One more name, t000003d0000000002, has a
    # newer 2026 record (source tokyo-opendata-2026) that supersedes the 2022 one.
    newest: dict[str, dict[str, Any]] = {}
    for p in raw:
        if (
            p["name"] not in newest
            or p["metadata_modified"] > newest[p["name"]]["metadata_modified"]
        ):
            newest[p["name"]] = p
    assert len(newest) == 5077 - 232
    del newest["t000003d0000000002"]
    expected_resources = sum(len(p["resources"]) for p in newest.values())

    assert counts["tokyo.read"] == 5077
    assert counts["tokyo.bad"] == 0
    assert counts["tokyo.superseded"] == 232
    with Session(engine) as s:
        tokyo = Dataset.source_id == "tokyo-opendata"
        ids = set(s.scalars(select(Dataset.id).where(tokyo)))
        assert ids == {p["id"] for p in newest.values()}
        assert len(ids) == 4844
        n_dist = s.scalar(select(func.count()).select_from(Distribution).join(Dataset).where(tokyo))
        assert n_dist == expected_resources
        n_orgs = s.scalar(select(func.count(func.distinct(Dataset.organization_id))).where(tokyo))
        assert n_orgs == 69
        assert s.scalar(select(func.count()).select_from(Dataset)
                        .where(Dataset.name == "t000003d0000000002",
                               Dataset.source_id == "tokyo-opendata-2026")) == 1  # fmt: skip


def test_ckan_fields_are_mapped(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = seeded
    with Session(engine) as s:
        ds = get_dataset(s, "00066383-1352-4761-8549-ae42a2380900")
        assert ds.organization.title == "東京都総務局"
        assert ds.license_id == "cc-by-4.0"
        assert ds.frequency and "更新頻度" not in ds.extras
        assert [m.lg_code for m in ds.municipalities] == ["130001"]
        assert ds.distributions[0].format == "CSV"
        assert ds.source_id == "tokyo-opendata"
        edogawa = s.scalar(select(Organization).where(Organization.name == "t131237"))
        assert edogawa is not None and edogawa.lg_code == "131237"
        assert edogawa.corporate_number is None  # not in the dump, so not invented
        groups = set(s.scalars(select(Group.name)))
        assert {f"c{n:03d}" for n in range(1, 15)} <= groups
        assert "gr_1300" in groups
        caa = get_dataset(s, "caa_20181122_0027")
        assert caa.organization.title == "消費者庁" and caa.license_id == "cc-by-4.0"
        uk = get_dataset(s, "uk-continental-shelf-seabed-sediments-1-1-million-scale2")
        assert uk.license_id == "notspecified" and uk.source.license.startswith("Open Government")
        assert uk.temporal_start is not None and uk.temporal_start.year == 2005


def test_search_finds_japanese_words(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = seeded
    with Session(engine) as s:
        for word in ("人口", "バス", "税"):
            result = search_datasets(s, SearchQuery(q=word, rows=5))
            assert result.count > 0, word
        filtered = search_datasets(
            s, SearchQuery(q="人口", filters=(("municipality", "130001"),), rows=1)
        )
        assert filtered.count > 0


def test_code_lists(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = seeded
    with zipfile.ZipFile(sources.ABR_CITY) as z:
        text = z.read(z.namelist()[0]).decode("utf-8-sig")
    cities = list(csv.DictReader(io.StringIO(text)))
    with Session(engine) as s:

        def entries(name: str) -> list[CodeListEntry]:
            cl = s.scalar(select(CodeList).where(CodeList.name == name))
            assert cl is not None and cl.source_id == "abr"
            return list(cl.entries)

        prefs = entries("jp-prefecture")
        assert len(prefs) == 47
        assert prefs[12].code == "130001" and prefs[12].label == "東京都"
        munis = {e.code: e for e in entries("jp-municipality")}
        assert len(munis) == len(cities) == 1918
        assert munis["131041"].label == "新宿区" and munis["131041"].parent_code == "130001"
        assert munis["011011"].label == "札幌市中央区"
        assert munis["131041"].valid_from is not None
        sex = s.scalar(select(CodeList).where(CodeList.name == "pcd:SexCodeList"))
        assert sex is not None and [(e.code, e.label) for e in sex.entries][:2] == [
            ("0", "不明"),
            ("1", "男性"),
        ]


def test_data_dictionary(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = seeded
    with Session(engine) as s:
        aed = get_dataset(s, "suisho-aed")
        assert aed.organization.corporate_number == "5000012010024"
        elements = aed.distributions[0].elements
        assert elements[0].name == "都道府県コード又は市区町村コード"
        by_name = {e.name: e for e in elements}
        assert by_name["名称"].required and by_name["名称"].definition
        assert by_name["緯度"].data_type == "number"
        toilet = get_dataset(s, "jichitai-standard-public-toilet")
        assert len(toilet.distributions[0].elements) == 39
        assert aed.source_id == "suisho-datasets"


def test_reloading_changes_nothing(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = seeded
    before = _row_counts(engine)
    with Session(engine) as s:
        pks_before = dict(s.execute(select(Distribution.id, Distribution.pk)).all())
    counts = load_seed(engine)
    assert _row_counts(engine) == before
    assert all(v == 0 for k, v in counts.items() if k.endswith((".inserted", ".updated")))
    assert counts["codelists.new_lists"] == 0
    with Session(engine) as s:
        assert dict(s.execute(select(Distribution.id, Distribution.pk)).all()) == pks_before
    assert seed_if_empty(engine) == {}
