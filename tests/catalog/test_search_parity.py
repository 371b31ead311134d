"""SQLite and PostgreSQL return the same hits, counts and facets for the same catalog.

Runs in the PostgreSQL half of the suite (it needs both databases); the SQLite half deselects it.
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import SHARED, _new_database
from tsunagu.accounts import Caller, create_organization
from tsunagu.catalog import (
    SearchQuery,
    create_dataset,
    ensure_licenses,
    get_datasets,
    parse_dataset,
    parse_fq,
    search_datasets,
)
from tsunagu.db import is_postgres, make_engine, migrate

pytestmark = pytest.mark.postgres

TERMS = ["人口", "世帯", "税", "バス", "保育所", "避難所", "介護保険",
         "統計", "一覧", "ごみ", "図書館", "公園", "AED", "Wi-Fi",
         "予算", "選挙", "観光", "病院", "駐輪場", "消防"]  # fmt: skip
FORMATS = ["CSV", "XLSX", "PDF", "JSON", "ZIP"]
LICENSES = ["cc-by-4.0", "gov-std-2.0", "cc-zero"]


def municipalities() -> list[tuple[str, str]]:
    with zipfile.ZipFile(SHARED / "abr-data" / "mt_city_all.csv.zip") as z:
        name = z.namelist()[0]
        rows = csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8-sig"))
        return [
            (r["lg_code"], r["city"] + r["ward"]) for r in rows if r["lg_code"].startswith("13")
        ]


def build(engine: Engine) -> None:
    rng = random.Random(20261126)
    cities = municipalities()
    with Session(engine) as session:
        ensure_licenses(session)
        org = create_organization(session, "parity", "東京都総務局")
        caller = Caller(org.id, org.name, 0)
        for i in range(300):
            code, city = rng.choice(cities)
            a, b = rng.sample(TERMS, 2)
            data = {
                "name": f"ds-{i:04d}",
                "title": f"{city}の{a}{rng.choice(['一覧', '統計', '状況'])}",
                "notes": f"{city}における{b}と{a}のデータ。令和{rng.randint(1, 6)}年度。",
                "owner_org": "parity",
                "license_id": rng.choice(LICENSES),
                "tags": [{"name": a}, {"name": b}],
                "municipalities": [code],
                "resources": [{"name": f"{a}データ", "format": rng.choice(FORMATS)}],
            }
            create_dataset(session, caller, parse_dataset(data))
        session.commit()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    sqlite = make_engine(f"sqlite:///{tmp_path_factory.mktemp('parity') / 'p.sqlite3'}")
    url, drop = _new_database(tmp_path_factory.mktemp("pg"), "parity")
    postgres = make_engine(url)
    assert is_postgres(postgres), "the parity test needs TSUNAGU_TEST_DATABASE_URL (PostgreSQL)"
    for engine in (sqlite, postgres):
        migrate(engine)
        build(engine)
    yield sqlite, postgres
    sqlite.dispose()
    postgres.dispose()
    drop()


QUERIES = ["", "税", "市", "区", "人口", "バス", "保育", "避難所", "介護保険", "世帯 統計",
           "aed", "wi", "ＡＥＤ", '"人口"', "令和5年度", "存在しない語"]  # fmt: skip
FACETS = ("organization", "tags", "res_format", "license_id", "municipality")


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("fq", ["", "res_format:CSV", 'license_id:"cc-by-4.0" tags:人口'])
def test_same_hits_counts_and_facets(pair: tuple[Engine, Engine], q: str, fq: str) -> None:
    answers = []
    for engine in pair:
        with Session(engine) as session:
            query = SearchQuery(q=q, filters=parse_fq(fq), facet_fields=FACETS, rows=1000,
                                sort="name")  # fmt: skip
            result = search_datasets(session, query)
            names = [d.name for d in get_datasets(session, result.dataset_pks)]
            answers.append((result.count, names, result.facets))
    assert answers[0] == answers[1]


def test_same_order_when_sorted_by_title(pair: tuple[Engine, Engine]) -> None:
    orders = []
    for engine in pair:
        with Session(engine) as session:
            result = search_datasets(session, SearchQuery(q="人口", sort="title", rows=1000))
            orders.append([d.name for d in get_datasets(session, result.dataset_pks)])
    assert orders[0] == orders[1]
    assert len(orders[0]) > 10
