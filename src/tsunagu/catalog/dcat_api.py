"""DCAT-AP 3 routes: the catalog (Hydra-paged), each dataset, and a SHACL validation endpoint.

Registered before the web site's router so ``/dataset/{name}.ttl`` is RDF while
``/dataset/{name}`` stays the HTML page (dataset names cannot hold a dot).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tsunagu.http import get_session, rate_limit
from tsunagu.kernel import Settings

from .dcat_export import FORMATS, CatalogPage, dataset_document, export_catalog, media_type
from .services import get_dataset
from .shacl import Limits, format_for, validate_rdf

router = APIRouter(tags=["DCAT-AP"])
SessionDep = Annotated[Session, Depends(get_session)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _catalog(request: Request, fmt: str, page: int) -> StreamingResponse:
    settings = _settings(request)
    base = settings.effective_base_url
    # The stream outlives the route, so it owns its session (closed when the stream ends).
    session: Session = request.app.state.sessionmaker()
    try:
        pieces = export_catalog(
            session,
            fmt,
            CatalogPage(base=base, publisher=settings.dcat_publisher, page=page,
                        page_size=settings.dcat_page_size, path=f"{base}/catalog.{fmt}"),
        )  # fmt: skip
    except Exception:
        session.close()
        raise

    def stream() -> Iterator[str]:
        try:
            yield from pieces
        finally:
            session.close()

    return StreamingResponse(stream(), media_type=media_type(fmt))


PageQuery = Annotated[int, Query(ge=1, description="Page number (hydra:PartialCollectionView)")]
_NOT_FOUND = {"description": "No such page or dataset", "content": {"application/problem+json": {}}}


def _rdf(fmt: str) -> dict[str, Any]:
    """What the OpenAPI document says a route answers: RDF in ``fmt``'s media type, not JSON."""
    media = media_type(fmt).split(";")[0]
    schema = {"type": "object"} if fmt == "jsonld" else {"type": "string"}  # JSON-LD is JSON
    return {
        "response_class": Response,
        "responses": {200: {"content": {media: {"schema": schema}}}, 404: _NOT_FOUND},
    }


@router.get("/catalog.ttl", **_rdf("ttl"), summary="The catalog as DCAT-AP 3 Turtle (paged)")
def catalog_ttl(request: Request, page: PageQuery = 1) -> StreamingResponse:
    return _catalog(request, "ttl", page)


@router.get("/catalog.jsonld", **_rdf("jsonld"), summary="The catalog as DCAT-AP 3 JSON-LD (paged)")
def catalog_jsonld(request: Request, page: PageQuery = 1) -> StreamingResponse:
    return _catalog(request, "jsonld", page)


@router.get("/catalog.rdf", **_rdf("rdf"), summary="The catalog as DCAT-AP 3 RDF/XML (paged)")
def catalog_rdf(request: Request, page: PageQuery = 1) -> StreamingResponse:
    return _catalog(request, "rdf", page)


def _dataset(request: Request, session: Session, name: str, fmt: str) -> Response:
    ds = get_dataset(session, name)
    body = dataset_document(ds, fmt, _settings(request).effective_base_url)
    return Response(body, media_type=media_type(fmt))


@router.get("/dataset/{name}.ttl", **_rdf("ttl"), summary="A dataset as DCAT-AP 3 Turtle")
def dataset_ttl(name: str, request: Request, session: SessionDep) -> Response:
    return _dataset(request, session, name, "ttl")


@router.get("/dataset/{name}.jsonld", **_rdf("jsonld"), summary="A dataset as DCAT-AP 3 JSON-LD")
def dataset_jsonld(name: str, request: Request, session: SessionDep) -> Response:
    return _dataset(request, session, name, "jsonld")


@router.get("/dataset/{name}.rdf", **_rdf("rdf"), summary="A dataset as DCAT-AP 3 RDF/XML")
def dataset_rdf(name: str, request: Request, session: SessionDep) -> Response:
    return _dataset(request, session, name, "rdf")


@router.post(
    "/api/v1/dcat/validate",
    summary="Validate DCAT-AP 3 RDF against the SHACL shapes",
    dependencies=[Depends(rate_limit("write"))],
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/turtle": {"schema": {"type": "string"}},
        "application/rdf+xml": {"schema": {"type": "string"}},
        "application/ld+json": {"schema": {"type": "object"}},
    }}},
)  # fmt: skip
async def validate(
    request: Request,
    recommended: Annotated[bool, Query(description="Also check recommended properties")] = False,
) -> JSONResponse:
    """SHACL results grouped by dataset; ``value`` (missing/invalid) apart from ``range``."""
    rdf_format = format_for(request.headers.get("content-type", ""))
    body = await request.body()
    settings = _settings(request)
    # SHACL takes seconds on a large graph: keep it off the event loop, and bound the graph.
    limits = Limits(max_triples=settings.dcat_validate_max_triples,
                    max_resources=settings.dcat_validate_max_resources)  # fmt: skip
    report = await run_in_threadpool(
        validate_rdf, body, rdf_format, recommended=recommended, limits=limits
    )
    payload: dict[str, Any] = report.as_dict()
    return JSONResponse(payload)


__all__ = ["FORMATS", "router"]
