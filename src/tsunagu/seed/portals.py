"""Japan's CKAN open-data portals as catalog entries with their Action API (dcat:DataService).

Source: the site list of the cross-portal search service xckan (NII-CPS-Center/xckan), 42 real
portals with the base URL of their CKAN Action API. Each becomes a dataset "the catalog of
portal X" with one distribution (its package_search endpoint) and one data service (the API).
These are also the first harvest sources for the harvester (issue "Catalog interoperability").
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .records import BadRecord, DatasetRecord, OrgRecord, ResourceRecord, ServiceRecord
from .writer import stable_uuid

CKAN_API_DOCS = "https://docs.ckan.org/en/2.9/api/"


def _slug(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if not host:
        raise BadRecord(f"no host in {url!r}")
    return re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")[:80]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


def portal_record(site: dict[str, Any]) -> DatasetRecord:
    """One xckan site entry → a catalog record with its CKAN API as a data service."""
    title = str(site.get("title") or "").strip()
    api = str(site.get("ckanapi_url") or "").strip()
    if not title or not api.startswith(("http://", "https://")):
        raise BadRecord(f"site without title or API URL: {site!r:.80}")
    slug = _slug(api)
    publisher = str(site.get("publisher") or "").strip()
    dataset_page = str(site.get("dataset_url") or "")
    home = f"{urlsplit(api).scheme}://{urlsplit(api).netloc}/"
    org = OrgRecord(
        name=f"portal-{slug}"[:100],
        title=publisher or title,
        url=str(site.get("publisher_url") or home),
        description=f"{title}（{home}）を運営する団体。",
    )
    seen = _when(site.get("update_time")) or datetime(2022, 2, 15)  # noqa: DTZ001 -- stored naive UTC
    search = api.rstrip("/") + "/package_search"
    if "/api/3/action" not in api and not api.rstrip("/").endswith("/action"):
        search = api.rstrip("/") + "/3/action/package_search"
    return DatasetRecord(
        id=stable_uuid("xckan", slug),
        name=f"ckan-api-{slug}"[:100],
        title=f"{title} のデータカタログ（CKAN API）",
        title_en=f"Data catalog of {title} (CKAN Action API)",
        notes=(
            f"{title}に登録されたデータセットのメタデータを CKAN Action API で提供します。"
            f"データセット一覧: {dataset_page}"
        ),
        organization=org,
        metadata_created=seen,
        metadata_modified=seen,
        license_id="notspecified",
        url=dataset_page or home,
        tags=["CKAN", "API", "オープンデータカタログ"],
        extras={"xckan_fq_available": str(bool(site.get("is_fq_available"))).lower()},
        resources=[
            ResourceRecord(
                id=stable_uuid("xckan", slug, "package_search"),
                position=0,
                name="package_search",
                description="CKAN Action API によるデータセット検索（JSON）",
                url=search,
                format="JSON",
                media_type="application/json",
            )
        ],
        services=[
            ServiceRecord(
                id=stable_uuid("xckan", slug, "service"),
                title=f"{title} CKAN Action API",
                endpoint_url=api,
                description="CKAN Action API (package_search, package_show, organization_list …)",
                endpoint_description=CKAN_API_DOCS,
            )
        ],
    )


def read_portals(path: Path) -> tuple[list[DatasetRecord], int]:
    """Records for the enabled portals of an xckan site list; returns (records, bad count)."""
    sites = json.loads(path.read_text(encoding="utf-8"))
    records: list[DatasetRecord] = []
    bad = 0
    for site in sites if isinstance(sites, list) else []:
        if not isinstance(site, dict) or site.get("enable") is False:
            continue
        try:
            records.append(portal_record(site))
        except (BadRecord, ValueError) as exc:
            del exc
            bad += 1
    return records, bad
