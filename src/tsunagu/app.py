"""Composition root: builds the engine, the app and its routes from settings. Nothing else does."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, MetaData
from starlette.requests import Request
from starlette.types import ASGIApp, Scope

from tsunagu import __version__
from tsunagu.db import Base, make_engine, make_sessionmaker
from tsunagu.http import RateLimits, install_error_handlers, problem_response
from tsunagu.http.middleware import Metrics, RequestMiddleware, configure_logging
from tsunagu.kernel import Problem, Settings, load_settings


def all_metadata() -> MetaData:
    """Every context's tables (for Alembic autogenerate and checks)."""
    import tsunagu.accounts.models
    import tsunagu.catalog.datastore.models
    import tsunagu.catalog.harvest.models
    import tsunagu.catalog.models
    import tsunagu.catalog.quality.models
    import tsunagu.catalog.versions.models
    import tsunagu.db.outbox
    import tsunagu.ledger.models
    import tsunagu.mesh.models
    import tsunagu.registries.address.models
    import tsunagu.registries.corporations.models
    import tsunagu.registries.laws.models
    import tsunagu.registries.residents.models
    import tsunagu.trust.models  # noqa: F401

    return Base.metadata


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The hub / portal: catalog site, registries, trust services, log, mesh hub services."""
    settings = settings or load_settings()
    app = _base_app(
        settings,
        engine,
        "tsunagu",
        "National data platform: catalog, base registries, service mesh, trust.",
    )
    _include_routes(app)
    from tsunagu.mesh.hub_api import hub_lifespan

    app.router.lifespan_context = hub_lifespan
    return app


def create_node_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """A mesh node's local app: its registries, the /r1 proxy and the mesh management API.

    The node's runtime (identity, trust list, clients) is in ``app.state.node``; the
    mutual-TLS app other nodes call is built from it by ``tsunagu.mesh.node.serve_node``.
    """
    from tsunagu.mesh import api as mesh_api
    from tsunagu.mesh.consumer import consume
    from tsunagu.mesh.node import lean_route, local_router, node_lifespan, open_runtime
    from tsunagu.registries.address import api as address_api
    from tsunagu.registries.corporations import api as corporations_api
    from tsunagu.registries.laws import api as laws_api
    from tsunagu.registries.residents import api as residents_api
    from tsunagu.web import apidocs, health, mesh_pages

    settings = settings or load_settings()
    app = _base_app(
        settings,
        engine,
        f"tsunagu node {settings.node_member}",
        "A public service mesh node: query and provide data, push changes.",
    )
    app.include_router(health.router)
    apidocs.install(app)
    for module in (address_api, corporations_api, laws_api, residents_api, mesh_api):
        app.include_router(module.router)
    app.include_router(local_router())
    lean_route(app, "/r1/{service_path:path}", consume)
    mesh_pages.install_node(app)
    rt = open_runtime(
        settings, app.state.engine, local_app=app, registry=app.state.metrics.registry
    )
    app.state.node = rt
    app.router.lifespan_context = lambda _app: node_lifespan(rt, settings.mesh_worker)
    return app


def _base_app(settings: Settings, engine: Engine | None, title: str, summary: str) -> FastAPI:
    configure_logging(settings.log_level, settings.log_json)
    engine = engine or make_engine(settings.effective_database_url)

    app = FastAPI(
        title=title,
        version=__version__,
        summary=summary,
        openapi_url="/openapi.json",
        docs_url=None,  # served by tsunagu.web.apidocs without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.session_info = _session_info(settings)
    app.state.metrics = Metrics()
    app.state.rate_limits = RateLimits(
        {"write": settings.rate_limit_write, "search": settings.rate_limit_search}
    )
    app.state.secret_key = settings.resolved_secret_key()

    install_error_handlers(app)
    _document_problems(app)

    async def reject(scope: Scope, problem: Problem) -> ASGIApp:
        return problem_response(Request(scope), problem)

    app.add_middleware(
        RequestMiddleware,
        metrics=app.state.metrics,
        max_body_bytes=settings.max_body_bytes,
        behind_tls=settings.behind_tls,
        on_reject=reject,
    )
    return app


def _session_info(settings: Settings) -> dict[str, object]:
    """Per-session context: the search engine chosen by ``TSUNAGU_SEARCH_ENGINE``."""
    if settings.search_engine == "tantivy":
        from tsunagu.catalog.search import SEARCH_ENGINE_KEY
        from tsunagu.catalog.search_tantivy import TantivySearch

        return {SEARCH_ENGINE_KEY: TantivySearch.for_settings(settings)}
    return {}


def _include_routes(app: FastAPI) -> None:
    from tsunagu.catalog import api as catalog_api
    from tsunagu.catalog import ckan_api, dcat_api
    from tsunagu.catalog.datastore import api as datastore_api
    from tsunagu.catalog.harvest import api as harvest_api
    from tsunagu.catalog.quality import api as quality_api
    from tsunagu.catalog.versions import api as versions_api
    from tsunagu.registries.address import api as address_api
    from tsunagu.registries.address.geocoder import api as geocoder_api
    from tsunagu.registries.corporations import api as corporations_api
    from tsunagu.registries.laws import api as laws_api
    from tsunagu.registries.residents import api as residents_api
    from tsunagu.trust import api as trust_api
    from tsunagu.web import apidocs, harvest_pages, health, pages, quality_pages, version_pages

    app.include_router(health.router)
    apidocs.install(app)
    app.include_router(ckan_api.router)
    app.include_router(catalog_api.router)
    app.include_router(datastore_api.router)
    app.include_router(address_api.router)
    app.include_router(geocoder_api.router)
    app.include_router(corporations_api.router)
    app.include_router(laws_api.router)
    app.include_router(residents_api.router)
    from tsunagu.ledger.api import router as ledger_router
    from tsunagu.mesh import hub, hub_api

    app.include_router(ledger_router)
    app.include_router(trust_api.router)
    app.include_router(hub_api.router)
    app.state.trust_services = hub.service_entries  # the trust list publishes mesh services
    app.include_router(dcat_api.router)  # before the site: /dataset/{name}.ttl is not a page
    app.include_router(harvest_api.router)
    app.include_router(harvest_pages.router)
    app.include_router(quality_api.router)
    app.include_router(quality_pages.router)
    app.include_router(versions_api.router)
    app.include_router(version_pages.router)
    pages.install(app)  # routes, /static and HTML error pages


# The shape every error has on the wire (tsunagu.http.errors), for the OpenAPI document.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details (docs/problems.md lists the types)",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
CKAN_ERROR_SCHEMA: dict[str, Any] = {
    "title": "CkanError",
    "description": "CKAN's error envelope (validation errors answer 409, as CKAN does)",
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "help": {"type": "string"},
        "success": {"const": False},
        "error": {
            "type": "object",
            "properties": {"__type": {"type": "string"}, "message": {"type": "string"}},
            "additionalProperties": True,
        },
    },
}


def _document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what errors are: FastAPI documents every 422 as its own
    ``HTTPValidationError`` JSON, but ours are problem+json (CKAN's envelope under /api/3/),
    and the problem+json responses the routes declare carry no schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = generate()  # FastAPI keeps this very dict as app.openapi_schema
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        for path, operations in spec.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
                if path.startswith("/api/3/") and "422" in responses:
                    schemas["CkanError"] = CKAN_ERROR_SCHEMA
                    del responses["422"]
                    responses["409"] = {
                        "description": "Not valid: CKAN's error envelope (409, as CKAN answers)",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CkanError"}
                            }
                        },
                    }
                for status, response in responses.items():
                    content = response.get("content", {})
                    if status == "422" and "application/problem+json" not in content:
                        response["description"] = "Not valid (RFC 9457 problem)"
                        response["content"] = {"application/problem+json": problem}
                    elif "application/problem+json" in content:
                        content["application/problem+json"] = problem
        # FastAPI's own error shapes, now referenced by no operation (ValidationError only by
        # HTTPValidationError).
        used = json.dumps(spec.get("paths"))
        for name in ("HTTPValidationError", "ValidationError"):
            if f'"#/components/schemas/{name}"' not in used:
                schemas.pop(name, None)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
