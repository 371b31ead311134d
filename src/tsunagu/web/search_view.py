"""The dataset search page's model: checked parameters, facets with labels, links, pagination."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.requests import Request

from tsunagu.catalog import (
    FACET_FIELDS,
    Dataset,
    SearchQuery,
    get_datasets,
    search_datasets,
)
from tsunagu.catalog.text import MAX_QUERY_CHARS
from tsunagu.kernel import BadRequest, ValidationProblem

from .i18n import Translate
from .queries import (
    Label,
    group_labels,
    license_labels,
    municipality_labels,
    organization_labels,
)

PAGE_SIZE = 20
MAX_PAGE = 10_000  # beyond it OFFSET gets slow and nobody pages that far
MAX_FILTERS = 20
MAX_VALUE_CHARS = 200
FACET_LIMIT = 30
SORT_OPTIONS = ("relevance", "modified", "title")
_PAGE_RE = re.compile(r"^[0-9]{1,7}\Z")


@dataclass(frozen=True)
class Params:
    """A search page's query string, checked."""

    q: str = ""
    filters: tuple[tuple[str, str], ...] = ()
    sort: str = "relevance"
    page: int = 1


def parse_params(request: Request, t: Translate, fixed: tuple[str, ...] = ()) -> Params:
    """Check the query string; anything odd is a 400 with a message a person can act on."""
    allowed = ("q", "sort", "page", "lang", *(f for f in FACET_FIELDS if f not in fixed))
    q = ""
    sort = "relevance"
    page = 1
    filters: list[tuple[str, str]] = []
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise BadRequest(t("bad.param", name=name[:50], allowed=", ".join(allowed)))
        if name == "q":
            q = value.strip()
            if len(q) > MAX_QUERY_CHARS:
                raise BadRequest(t("bad.q", n=len(q), max=MAX_QUERY_CHARS), field="q")
        elif name == "sort":
            if value not in SORT_OPTIONS:
                raise BadRequest(t("bad.sort", value=value[:50]), field="sort")
            sort = value
        elif name == "page":
            if not _PAGE_RE.match(value) or int(value) < 1:
                raise BadRequest(t("bad.page"), field="page")
            page = int(value)
            if page > MAX_PAGE:
                raise BadRequest(t("bad.page_far"), field="page")
        elif name in FACET_FIELDS:
            if len(value) > MAX_VALUE_CHARS:
                raise BadRequest(t("bad.value", name=name), field=name)
            if value and (name, value) not in filters:
                filters.append((name, value))
    if len(filters) > MAX_FILTERS:
        raise BadRequest(t("bad.filters"))
    return Params(q=q, filters=tuple(filters), sort=sort, page=page)


@dataclass
class FacetItem:
    value: str
    label: Label
    count: int
    active: bool
    url: str


@dataclass
class Facet:
    field: str
    items: list[FacetItem]


@dataclass
class ActiveFilter:
    field: str
    value: str
    label: Label
    remove_url: str


@dataclass
class PageLink:
    number: int
    url: str
    current: bool


@dataclass
class SearchPage:
    """Everything the results template shows."""

    params: Params
    count: int
    datasets: list[Dataset]
    facets: list[Facet]
    active: list[ActiveFilter]
    pages: int
    page_links: list[PageLink] = field(default_factory=list)
    prev_url: str | None = None
    next_url: str | None = None
    clear_url: str = ""
    labels: dict[str, dict[str, Label]] = field(default_factory=dict)


class _Links:
    """URLs of this search with one thing changed (the page resets when filters change)."""

    def __init__(self, base: str, params: Params) -> None:
        self.base = base
        self.params = params

    def build(
        self,
        filters: tuple[tuple[str, str], ...] | None = None,
        page: int = 1,
        sort: str | None = None,
    ) -> str:
        pairs: list[tuple[str, str]] = []
        if self.params.q:
            pairs.append(("q", self.params.q))
        pairs += list(self.params.filters if filters is None else filters)
        chosen_sort = sort or self.params.sort
        if chosen_sort != "relevance":
            pairs.append(("sort", chosen_sort))
        if page > 1:
            pairs.append(("page", str(page)))
        return self.base + ("?" + urlencode(pairs) if pairs else "")

    def adding(self, name: str, value: str) -> str:
        return self.build((*self.params.filters, (name, value)))

    def removing(self, name: str, value: str) -> str:
        return self.build(tuple(f for f in self.params.filters if f != (name, value)))


def facet_labels(session: Session, values: dict[str, set[str]]) -> dict[str, dict[str, Label]]:
    """Display names of facet values: titles for codes, the value itself otherwise."""
    return {
        "organization": organization_labels(session, values.get("organization", ())),
        "groups": group_labels(session, values.get("groups", ())),
        "license_id": license_labels(session, values.get("license_id", ())),
        "municipality": municipality_labels(session, values.get("municipality", ())),
    }


def run_search(
    session: Session,
    params: Params,
    base: str,
    fixed: tuple[tuple[str, str], ...] = (),
) -> SearchPage:
    """Search with the page's parameters plus ``fixed`` filters (an organization's page)."""
    hidden = {name for name, _ in fixed}
    query = SearchQuery(
        q=params.q,
        filters=fixed + params.filters,
        facet_fields=tuple(f for f in FACET_FIELDS if f not in hidden),
        facet_limit=FACET_LIMIT,
        sort=params.sort,
        rows=PAGE_SIZE,
        start=(params.page - 1) * PAGE_SIZE,
    )
    try:
        result = search_datasets(session, query)
    except ValidationProblem as exc:  # e.g. too many terms: the user's input, so a 400
        raise BadRequest(exc.detail, field=exc.field) from exc
    datasets = get_datasets(session, result.dataset_pks)
    links = _Links(base, params)

    values: dict[str, set[str]] = {}
    for name, counts in result.facets.items():
        values.setdefault(name, set()).update(v for v, _ in counts)
    for name, value in params.filters:
        values.setdefault(name, set()).add(value)
    for ds in datasets:
        values.setdefault("organization", set()).add(ds.organization.name)
    labels = facet_labels(session, values)

    def label(name: str, value: str) -> Label:
        return labels.get(name, {}).get(value) or Label(value)

    active_set = set(params.filters)
    facets = [
        Facet(
            name,
            [
                FacetItem(
                    value,
                    label(name, value),
                    n,
                    (name, value) in active_set,
                    links.removing(name, value)
                    if (name, value) in active_set
                    else links.adding(name, value),
                )
                for value, n in counts
            ],
        )
        for name, counts in result.facets.items()
        if counts
    ]
    active = [
        ActiveFilter(name, value, label(name, value), links.removing(name, value))
        for name, value in params.filters
    ]
    pages = max(1, -(-result.count // PAGE_SIZE))
    window = range(max(1, params.page - 2), min(pages, params.page + 2) + 1)
    return SearchPage(
        params=params,
        count=result.count,
        datasets=datasets,
        facets=facets,
        active=active,
        pages=pages,
        page_links=[PageLink(n, links.build(page=n), n == params.page) for n in window],
        prev_url=links.build(page=params.page - 1) if params.page > 1 else None,
        next_url=links.build(page=params.page + 1) if params.page < pages else None,
        clear_url=links.build(filters=()),
        labels=labels,
    )
