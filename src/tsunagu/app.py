"""Composition root: builds the engine, the app and its routes from settings. Nothing else does."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine, MetaData
from starlette.requests import Request
from starlette.types import ASGIApp, Scope

from tsunagu import __version__
from tsunagu.db import Base, make_engine, make_sessionmaker
from tsunagu.http import RateLimits, install_error_handlers, problem_response
from tsunagu.http.middleware import Metrics, RequestMiddleware, configure_logging
from tsunagu.http.openapi import document_errors
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
    from tsunagu.mesh.consumer import consume, problem_answer
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
    app.state.problem_renderers = {"/r1/": problem_answer}  # X-Road's errors, not problem+json
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
    document_errors(app)

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
