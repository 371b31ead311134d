"""Page through a source: CKAN ``package_search`` (start/rows) or DCAT RDF (Hydra next page).

Both stop at ``limits.max_pages`` and never fetch a URL twice (a seen-URL set), so a source
whose ``nextPage`` points back or on forever ends the run with a clear error (ckanext-dcat
issues #62 and #260). Only one page is held in memory at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
from rdflib import Graph, URIRef
from rdflib.namespace import Namespace

from tsunagu.kernel import ValidationProblem

from ..shacl import RDF_FORMATS, SUFFIX_FORMATS, parse_rdf
from .fetch import HarvestError, Limits, Page, fetch

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
CKAN_ROWS = 100


def package_search_url(url: str) -> str:
    """The package_search endpoint of a CKAN site, its Action API base or the endpoint itself."""
    base = url.split("?", 1)[0].rstrip("/")
    if base.endswith("/package_search"):
        return base
    if base.endswith("/api/3/action") or base.endswith("/action"):
        return base + "/package_search"
    if base.endswith("/api/3") or base.endswith("/api"):
        return base + ("/action" if base.endswith("/3") else "/3/action") + "/package_search"
    return base + "/api/3/action/package_search"


def _too_many_pages(limits: Limits) -> HarvestError:
    return HarvestError(
        f"stopped after {limits.max_pages} pages (harvest_max_pages): the source's paging did "
        "not end"
    )


def ckan_pages(client: httpx.Client, url: str, limits: Limits) -> Iterator[tuple[Page, list[Any]]]:
    """Pages of CKAN package dicts, until a page is short or ``count`` is reached."""
    endpoint = package_search_url(url)
    start, total = 0, None
    seen_ids: set[Any] = set()
    for number in range(limits.max_pages + 1):
        if number == limits.max_pages:
            raise _too_many_pages(limits)
        page_url = f"{endpoint}?{urlencode({'rows': CKAN_ROWS, 'start': start})}"
        page = fetch(client, page_url, limits)
        try:
            document = json.loads(page.body)
            result = document["result"]
            results = result["results"]
            total = int(result.get("count", 0)) if total is None else total
        except (ValueError, KeyError, TypeError) as exc:
            raise HarvestError(f"{page_url}: not a CKAN package_search answer ({exc})") from exc
        if document.get("success") is not True or not isinstance(results, list):
            raise HarvestError(f"{page_url}: package_search did not succeed")
        ids = {r.get("id") for r in results if isinstance(r, dict)}
        if results and ids <= seen_ids:
            raise HarvestError(f"{page_url}: the source repeats a page it already sent")
        seen_ids |= ids
        yield page, results
        start += len(results)
        if len(results) < CKAN_ROWS or start >= total:
            return


def rdf_format(page: Page) -> str:
    media = page.content_type.split(";")[0].strip().lower()
    if media in RDF_FORMATS:
        return RDF_FORMATS[media]
    path = urlsplit(page.url).path.lower()
    for suffix, fmt in SUFFIX_FORMATS.items():
        if path.endswith(suffix):
            return fmt
    return "turtle"


def _next_page(g: Graph, current: str) -> str | None:
    for pred in (HYDRA.next, HYDRA.nextPage):
        for value in g.objects(None, pred):
            link = urljoin(current, str(value))
            if link.startswith(("http://", "https://")):
                return link
    return None


def dcat_pages(client: httpx.Client, url: str, limits: Limits) -> Iterator[tuple[Page, Graph]]:
    """Parsed RDF pages of a DCAT catalog, following hydra:next / hydra:nextPage."""
    seen: set[str] = set()
    next_url: str | None = url
    pages = 0
    while next_url is not None:
        if next_url in seen:
            raise HarvestError(f"{next_url}: the next page points back to a page already read")
        if pages == limits.max_pages:
            raise _too_many_pages(limits)
        seen.add(next_url)
        page = fetch(client, next_url, limits)
        try:
            g = parse_rdf(page.body, rdf_format(page))
        except ValidationProblem as exc:
            raise HarvestError(f"{next_url}: {exc.detail}") from exc
        pages += 1
        next_url = _next_page(g, page.url)
        yield page, g


__all__ = ["HYDRA", "URIRef", "ckan_pages", "dcat_pages", "package_search_url"]
