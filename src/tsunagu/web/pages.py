"""The catalog site: server-rendered HTML pages, Japanese first with an English switch."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from tsunagu.accounts import get_organization
from tsunagu.catalog import SearchQuery, get_dataset, search_datasets
from tsunagu.catalog.datastore import loaded_resource_ids
from tsunagu.http import get_session, rate_limit
from tsunagu.kernel import BadRequest, NotFound

from . import address_pages, datastore_pages, queries
from .csrf import require_csrf
from .i18n import LANGUAGES, negotiate, translator
from .render import STATIC_DIR, html_problem, render, set_lang_cookie
from .search_view import facet_labels, parse_params, run_search

router = APIRouter(include_in_schema=False)
DbSession = Annotated[Session, Depends(get_session)]

CODE_PAGE_SIZE = 100
_SAFE_NEXT = re.compile(r"^/(?![/\\])[^\s]*\Z")


def install(app: FastAPI) -> None:
    """Add the site to an app: its routes, ``/static`` and HTML error pages for browsers."""
    app.include_router(router)
    app.include_router(address_pages.router)
    app.include_router(datastore_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # http/errors.py renders problems with this when a browser asks for a page.
    app.state.html_problem_renderer = html_problem


def _check_no_params(request: Request, allowed: tuple[str, ...] = ("lang",)) -> None:
    t = translator(negotiate(request))
    for name in request.query_params:
        if name not in allowed:
            raise BadRequest(t("bad.param", name=name[:50], allowed=", ".join(allowed)))


@router.get("/")
def home(request: Request, session: DbSession) -> Response:
    _check_no_params(request)
    overview = search_datasets(
        session,
        SearchQuery(facet_fields=("organization", "groups"), facet_limit=1000, rows=0),
    )
    orgs = queries.organizations(session)
    org_counts = dict(overview.facets.get("organization", []))
    group_counts = dict(overview.facets.get("groups", []))
    groups = queries.group_list(session)
    return render(
        request,
        "home.html",
        {
            "nav": "home",
            "dataset_count": overview.count,
            "organization_count": len(orgs),
            "group_count": len(groups),
            "groups": [(g, group_counts.get(g.name, 0)) for g in groups],
            "organizations": sorted(
                ((o, org_counts.get(o.name, 0)) for o in orgs), key=lambda oc: (-oc[1], oc[0].name)
            )[:12],
            "sources": queries.sources(session),
        },
    )


@router.get("/dataset", dependencies=[Depends(rate_limit("search"))])
def dataset_search(request: Request, session: DbSession) -> Response:
    t = translator(negotiate(request))
    params = parse_params(request, t)
    page = run_search(session, params, "/dataset")
    return render(request, "search.html", {"nav": "datasets", "page": page})


@router.get("/dataset/{name}")
def dataset_page(name: str, request: Request, session: DbSession) -> Response:
    _check_no_params(request)
    ds = get_dataset(session, name)
    labels = facet_labels(
        session,
        {
            "municipality": {m.lg_code for m in ds.municipalities},
            "license_id": {ds.license_id} if ds.license_id else set(),
        },
    )
    return render(
        request,
        "dataset.html",
        {
            "nav": "datasets",
            "ds": ds,
            "municipalities": [
                (m.lg_code, labels["municipality"].get(m.lg_code)) for m in ds.municipalities
            ],
            "services": [_service_view(s) for s in ds.services],
            "datastore_ids": loaded_resource_ids(session, [r.pk for r in ds.distributions]),
        },
    )


def _service_view(service: Any) -> dict[str, Any]:
    """A data service with a summary of its stored OpenAPI document, if any."""
    doc = service.openapi if isinstance(service.openapi, dict) else None
    info = doc.get("info", {}) if doc else {}
    return {
        "service": service,
        "openapi": (
            {
                "title": str(info.get("title", "")) if isinstance(info, dict) else "",
                "version": str(info.get("version", "")) if isinstance(info, dict) else "",
                "paths": len(doc.get("paths") or {}) if doc else 0,
            }
            if doc
            else None
        ),
    }


@router.get("/organization")
def organization_list(request: Request, session: DbSession) -> Response:
    _check_no_params(request)
    overview = search_datasets(
        session, SearchQuery(facet_fields=("organization",), facet_limit=100_000, rows=0)
    )
    counts = dict(overview.facets.get("organization", []))
    orgs = [(o, counts.get(o.name, 0)) for o in queries.organizations(session)]
    return render(request, "organizations.html", {"nav": "organizations", "organizations": orgs})


@router.get("/organization/{name}", dependencies=[Depends(rate_limit("search"))])
def organization_page(name: str, request: Request, session: DbSession) -> Response:
    t = translator(negotiate(request))
    org = get_organization(session, name)
    if org.name != name:  # reached by numeric id: one canonical URL per organization
        return RedirectResponse(f"/organization/{org.name}", status_code=301)
    params = parse_params(request, t, fixed=("organization",))
    page = run_search(
        session, params, f"/organization/{org.name}", fixed=(("organization", org.name),)
    )
    return render(request, "organization.html", {"nav": "organizations", "org": org, "page": page})


@router.get("/code-lists")
def code_lists(request: Request, session: DbSession) -> Response:
    _check_no_params(request)
    return render(
        request,
        "code_lists.html",
        {"nav": "code_lists", "lists": queries.code_list_summaries(session)},
    )


@router.get("/code-lists/{name:path}")  # some list names hold a slash
def code_list_page(name: str, request: Request, session: DbSession) -> Response:
    t = translator(negotiate(request))
    _check_no_params(request, ("lang", "page", "q", "version"))
    versions = queries.code_list_versions(session, name)
    if not versions:
        raise NotFound(f"code list {name!r} not found")
    wanted = request.query_params.get("version")
    chosen = next((v for v in versions if v.version == wanted), None) if wanted else versions[0]
    if chosen is None:
        raise BadRequest(t("bad.version"), field="version")
    text = request.query_params.get("q", "").strip()
    if len(text) > 100:
        raise BadRequest(t("bad.value", name="q"), field="q")
    raw_page = request.query_params.get("page", "1")
    if not raw_page.isascii() or not raw_page.isdigit() or not 1 <= int(raw_page) <= 100_000:
        raise BadRequest(t("bad.page"), field="page")
    page = int(raw_page)
    total, entries = queries.code_list_entries(
        session, chosen.id, text, (page - 1) * CODE_PAGE_SIZE, CODE_PAGE_SIZE
    )
    pages = max(1, -(-total // CODE_PAGE_SIZE))

    def link(n: int) -> str:
        pairs = [("version", chosen.version)] if wanted else []
        if text:
            pairs.append(("q", text))
        if n > 1:
            pairs.append(("page", str(n)))
        return f"/code-lists/{name}" + ("?" + urlencode(pairs) if pairs else "")

    window = range(max(1, page - 2), min(pages, page + 2) + 1)
    return render(
        request,
        "code_list.html",
        {
            "nav": "code_lists",
            "code_list": chosen,
            "versions": versions,
            "entries": entries,
            "total": total,
            "filter_text": text,
            "page_number": page,
            "pages": pages,
            "page_links": [{"number": n, "url": link(n), "current": n == page} for n in window],
            "prev_url": link(page - 1) if page > 1 else None,
            "next_url": link(page + 1) if page < pages else None,
        },
    )


@router.get("/about")
def about(request: Request, session: DbSession) -> Response:
    _check_no_params(request)
    return render(request, "about.html", {"nav": "about", "sources": queries.sources(session)})


@router.post("/lang", dependencies=[Depends(require_csrf)])
async def switch_language(request: Request) -> Response:
    """The language switch: remember the choice in a cookie and go back to the page."""
    form = await request.form()
    lang = form.get("lang")
    target = form.get("next")
    if not isinstance(lang, str) or lang not in LANGUAGES:
        raise BadRequest(f"lang must be one of {', '.join(LANGUAGES)}", field="lang")
    # Only a path on this site, so the switch cannot be used as an open redirect.
    if not isinstance(target, str) or not _SAFE_NEXT.match(target):
        target = "/"
    response = RedirectResponse(target, status_code=303)
    set_lang_cookie(request, response, lang)
    return response
