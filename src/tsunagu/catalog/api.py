"""REST API of the catalog at ``/api/v1``: thin routes over the catalog services.

Errors are RFC 9457 problem+json (rendered by :mod:`tsunagu.http.errors`). Writes need an API
token in the ``Authorization`` header and commit before they answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller
from tsunagu.http import MAX_OFFSET, get_caller, get_session, rate_limit, require_caller
from tsunagu.kernel import ValidationProblem

from . import ckan, queries
from .api_models import (
    CodeListEntryOut,
    CodeListOut,
    CodeListSummary,
    DatasetBody,
    DatasetOut,
    DatasetPage,
    FacetItem,
    LicenseOut,
    Links,
    OrganizationOut,
    OrganizationPage,
)
from .models import CodeList
from .search import FACET_FIELDS, SORTS, SearchQuery
from .search import search as run_search
from .services import (
    authorize_edit,
    create_dataset,
    delete_dataset,
    get_dataset,
    get_datasets,
    resolve_organization,
    update_dataset,
)
from .versions.services import snapshot_at


def _reject_nul(request: Request) -> None:
    # PostgreSQL cannot compare text with NUL; answer 422 instead of failing in the database.
    if "\x00" in request.url.path or "\x00" in str(request.query_params):
        raise ValidationProblem("the request URL contains a NUL character")


router = APIRouter(prefix="/api/v1", tags=["REST API"], dependencies=[Depends(_reject_nul)])

SessionDep = Annotated[Session, Depends(get_session)]
CallerDep = Annotated[Caller | None, Depends(get_caller)]
WriterDep = Annotated[Caller, Depends(require_caller)]
PROBLEM = {"description": "Problem (RFC 9457)", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM,
    429: PROBLEM,
}  # fmt: skip
FILTERS = ("organization", "tags", "res_format", "license_id", "groups", "municipality")
# Values the search and queries check themselves (422 with their own messages), documented.
FACET_ENUM: dict[str, Any] = {"items": {"enum": list(FACET_FIELDS)}}
SORT_ENUM: dict[str, Any] = {"enum": list(SORTS)}
ORG_SORT_ENUM: dict[str, Any] = {"enum": [*queries.ORG_SORTS, *queries.COUNT_SORTS]}


@router.get(
    "/datasets",
    response_model=DatasetPage,
    summary="Search datasets",
    responses=ERRORS,
    dependencies=[Depends(rate_limit("search"))],
)
def list_datasets(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    q: Annotated[str, Query(description="Words to find (Japanese or English)")] = "",
    organization: Annotated[list[str] | None, Query()] = None,
    tags: Annotated[list[str] | None, Query()] = None,
    res_format: Annotated[list[str] | None, Query()] = None,
    license_id: Annotated[list[str] | None, Query()] = None,
    groups: Annotated[list[str] | None, Query()] = None,
    municipality: Annotated[list[str] | None, Query(description="全国地方公共団体コード")] = None,
    facet: Annotated[
        list[str] | None, Query(description="Facet fields to count", json_schema_extra=FACET_ENUM)
    ] = None,
    facet_limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    sort: Annotated[
        str, Query(description="relevance, modified, title or name", json_schema_extra=SORT_ENUM)
    ] = "relevance",
    rows: Annotated[int | None, Query(description="Page size (default 20)")] = None,
    start: Annotated[
        int | None, Query(ge=0, le=MAX_OFFSET, description="Offset of the first item")
    ] = None,
    page: Annotated[
        int | None, Query(ge=1, le=MAX_OFFSET, description="1-based page (with per_page)")
    ] = None,
    per_page: Annotated[int | None, Query(description="Page size for page")] = None,
    include_private: Annotated[bool, Query(description="Include your organization's")] = False,
) -> dict[str, Any]:
    """Full-text search with filters (ANDed; repeat a filter for several values) and facets."""
    values = {
        "organization": organization, "tags": tags, "res_format": res_format,
        "license_id": license_id, "groups": groups, "municipality": municipality,
    }  # fmt: skip
    filters = tuple((name, v) for name in FILTERS for v in values[name] or [])
    size = per_page if per_page is not None else rows if rows is not None else 20
    offset = (page - 1) * size if page is not None else start or 0
    query = SearchQuery(
        q=q,
        filters=filters,
        facet_fields=tuple(dict.fromkeys(facet or [])),
        facet_limit=facet_limit,
        sort=sort,
        rows=size,
        start=offset,
        private_org_ids=(caller.organization_id,) if include_private and caller else (),
    )
    result = run_search(session, query, max_rows=request.app.state.settings.search_max_rows)
    items = [ckan.package_dict(d) for d in get_datasets(session, result.dataset_pks)]
    facets: dict[str, list[FacetItem]] = {}
    for name, counts in result.facets.items():
        titles = queries.facet_titles(session, name, [v for v, _ in counts])
        facets[name] = [
            FacetItem(name=v, display_name=titles.get(v, v), count=n) for v, n in counts
        ]
    base = request.url.remove_query_params(["page", "per_page", "start", "rows"])
    nxt = offset + size
    return {
        "total": result.count,
        "start": offset,
        "rows": size,
        "items": items,
        "facets": facets,
        "links": Links(
            self=str(base.include_query_params(start=offset, rows=size)),
            next=str(base.include_query_params(start=nxt, rows=size))
            if size and nxt < result.count
            else None,
            prev=str(base.include_query_params(start=max(0, offset - size), rows=size))
            if offset > 0
            else None,
        ),
    }


@router.get("/datasets/{name}", response_model=DatasetOut, summary="A dataset", responses=ERRORS)
def show_dataset(
    name: str,
    session: SessionDep,
    caller: CallerDep,
    version: Annotated[str | None, Query(description="A version number; default latest")] = None,
    as_of: Annotated[str | None, Query(description="As it was then: date or date-time")] = None,
) -> dict[str, Any]:
    """A dataset by name or id (private ones only with a token of their organization).

    With ``version`` or ``as_of``, the dataset as recorded in that version (docs/versioning.md).
    """
    past = snapshot_at(session, name, caller, version=version, as_of=as_of)
    return past if past is not None else ckan.package_dict(get_dataset(session, name, caller))


@router.post(
    "/datasets",
    response_model=DatasetOut,
    status_code=201,
    summary="Create a dataset",
    responses=ERRORS,
    dependencies=[Depends(rate_limit("write"))],
)
def post_dataset(
    body: DatasetBody, response: Response, session: SessionDep, caller: WriterDep
) -> dict[str, Any]:
    """Create a dataset of the token's organization (``owner_org``)."""
    ds = create_dataset(session, caller, body)
    session.commit()
    response.headers["Location"] = f"/api/v1/datasets/{ds.name}"
    return _fresh(session, ds.id, caller)


@router.put(
    "/datasets/{name}",
    response_model=DatasetOut,
    summary="Replace a dataset",
    responses=ERRORS,
    dependencies=[Depends(rate_limit("write"))],
)
def put_dataset(
    name: str, body: DatasetBody, session: SessionDep, caller: WriterDep
) -> dict[str, Any]:
    """Replace a dataset's metadata; fields left out are cleared (use the CKAN API to patch)."""
    ds = get_dataset(session, name, caller)
    authorize_edit(session, caller, ds)
    ds = update_dataset(session, caller, ds.id, body)
    session.commit()
    return _fresh(session, ds.id, caller)


@router.delete(
    "/datasets/{name}",
    status_code=204,
    summary="Delete a dataset",
    responses=ERRORS,
    dependencies=[Depends(rate_limit("write"))],
)
def remove_dataset(name: str, session: SessionDep, caller: WriterDep) -> Response:
    """Delete a dataset: it leaves search and reads; its history is kept."""
    delete_dataset(session, caller, name)
    session.commit()
    return Response(status_code=204)


def _fresh(session: Session, dataset_id: str, caller: Caller) -> dict[str, Any]:
    session.expire_all()  # relationships (licence, organization) as committed
    return ckan.package_dict(get_dataset(session, dataset_id, caller))


@router.get("/organizations", response_model=OrganizationPage, summary="Organizations")
def list_organizations(
    session: SessionDep,
    sort: Annotated[
        str, Query(description="name, title or package_count", json_schema_extra=ORG_SORT_ENUM)
    ] = "name",
    limit: Annotated[int | None, Query(ge=0, le=10_000)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Participating organizations with their public dataset counts."""
    everything = queries.list_organizations(session, sort=sort)
    page = everything[offset : None if limit is None else offset + limit]
    return {"total": len(everything), "items": [ckan.organization_dict(o, n) for o, n in page]}


@router.get(
    "/organizations/{name}", response_model=OrganizationOut, summary="An organization",
    responses=ERRORS,
)  # fmt: skip
def show_organization(name: str, session: SessionDep) -> dict[str, Any]:
    """An organization by name, id or corporate number (法人番号)."""
    org = resolve_organization(session, name)
    return ckan.organization_dict(org, queries.organization_counts(session).get(org.id, 0))


@router.get("/licenses", response_model=list[LicenseOut], summary="Licences")
def list_licenses(session: SessionDep) -> list[dict[str, Any]]:
    """Licences datasets may carry, with their EU vocabulary URI where there is one."""
    return [ckan.license_dict(lic) for lic in queries.list_licenses(session)]


def _code_list_summary(session: Session, row: CodeList) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "versions": queries.code_list_versions(session, row.name),
        "title": row.title,
        "title_en": row.title_en,
        "description": row.description,
        "publisher": row.publisher,
        "issued": row.issued,
    }


@router.get("/code-lists", response_model=list[CodeListSummary], summary="Code lists")
def list_code_lists(session: SessionDep) -> list[dict[str, Any]]:
    """Every code list (コード一覧) in its latest version, without entries."""
    return [_code_list_summary(session, row) for row in queries.list_code_lists(session)]


@router.get(
    "/code-lists/{name}", response_model=CodeListOut, summary="A code list", responses=ERRORS
)
def show_code_list(
    name: str,
    session: SessionDep,
    version: Annotated[str | None, Query(description="A version; default the latest")] = None,
) -> dict[str, Any]:
    """A code list with its entries: the latest version or the one asked for."""
    row = queries.get_code_list(session, name, version)
    entries = [
        CodeListEntryOut(
            code=e.code, label=e.label, label_kana=e.label_kana, label_en=e.label_en,
            parent_code=e.parent_code, valid_from=e.valid_from, valid_to=e.valid_to,
        )
        for e in row.entries
    ]  # fmt: skip
    return {**_code_list_summary(session, row), "entries": entries}
