"""The interactive API documentation at ``/docs``, served without any CDN.

FastAPI's default page loads Swagger UI from a CDN, which a closed government network (and our
CSP) blocks. The assets come from the ``swagger-ui-py`` wheel (Swagger UI 5, which renders
OpenAPI 3.1) and are served from this process.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui.core import SWAGGER_UI_PY_ROOT

ASSETS = "/docs-assets"


def install(app: FastAPI) -> None:
    """Add ``/docs`` (Swagger UI) and its static assets to ``app``."""
    app.mount(ASSETS, StaticFiles(directory=Path(SWAGGER_UI_PY_ROOT) / "static"), name="docs")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
