"""Japan's CKAN portals (xckan site list) as catalog entries with their API as a data service."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.catalog import DataService, SearchQuery, get_dataset, get_datasets, search_datasets
from tsunagu.seed import load_seed
from tsunagu.seed.portals import read_portals

SITES = SHARED / "catalog-samples" / "xckan" / "xckan_sitelist.json"


def test_every_enabled_portal_becomes_a_record_with_its_api() -> None:
    sites = json.loads(SITES.read_text(encoding="utf-8"))
    records, bad = read_portals(SITES)
    assert bad == 0
    assert len(records) == sum(1 for s in sites if s.get("enable") is not False)
    apis = {r.services[0].endpoint_url for r in records}
    assert "https://www.data.go.jp/data/api/3/action/" in apis
    aomori = next(r for r in records if "aomori" in r.name)
    assert aomori.organization.title == "青森県"
    assert (
        aomori.resources[0].url == "https://opendata.pref.aomori.lg.jp/api/3/action/package_search"
    )


def test_portals_load_as_searchable_data_services(session: Session) -> None:
    counts = load_seed(session, only=("licenses", "ckan-portals"))
    assert counts["ckan-portals.datasets"] == counts["ckan-portals.inserted"] > 30
    ds = get_dataset(session, "ckan-api-www-data-go-jp")
    assert [s.endpoint_url for s in ds.services] == ["https://www.data.go.jp/data/api/3/action/"]
    assert ds.source_id == "ckan-portals"
    hits = search_datasets(session, SearchQuery(q="青い森"))
    assert "ckan-api-opendata-pref-aomori-lg-jp" in [
        d.name for d in get_datasets(session, hits.dataset_pks)
    ]
    again = load_seed(session, only=("ckan-portals",))
    assert again["ckan-portals.inserted"] == again["ckan-portals.updated"] == 0
    assert (
        session.scalar(select(func.count()).select_from(DataService))
        == counts["ckan-portals.datasets"]
    )


def test_a_site_without_api_url_is_counted_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "sites.json"
    path.write_text(
        json.dumps([{"title": "壊れたサイト", "ckanapi_url": ""},
                    {"title": "正しいサイト", "ckanapi_url": "https://example.jp/api/3/action/"}]),
        encoding="utf-8",
    )  # fmt: skip
    records, bad = read_portals(path)
    assert bad == 1 and [r.name for r in records] == ["ckan-api-example-jp"]
