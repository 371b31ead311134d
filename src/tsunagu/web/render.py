"""Rendering pages: the Jinja environment, per-request template context and HTML error pages."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from tsunagu.kernel import Problem

from .csrf import csrf_input, set_csrf_cookie
from .i18n import LANG_COOKIE, LANGUAGES, negotiate, translator

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
_ONE_YEAR = 365 * 24 * 3600


def filesize(value: int | None, lang: str = "ja") -> str:
    """Bytes in a readable unit (1 KB = 1,024 bytes, as file managers show them)."""
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return ""  # pragma: no cover - the loop always returns


def format_date(value: date | datetime | None) -> str:
    """ISO date (YYYY-MM-DD): unambiguous in both languages."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat()


def _environment() -> jinja2.Environment:
    # Autoescape every template, whatever its extension: nothing is ever trusted as HTML.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["filesize"] = filesize
    env.filters["isodate"] = format_date
    env.filters["number"] = lambda n: f"{int(n):,}"
    return env


templates = Jinja2Templates(env=_environment())


def current_path(request: Request, drop: tuple[str, ...] = ("lang",)) -> str:
    """This page's path and query, without the given parameters (for the language switch)."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in drop]
    return request.url.path + ("?" + urlencode(pairs) if pairs else "")


def base_context(request: Request) -> dict[str, Any]:
    """What every template needs: language, messages, CSRF helper, localized-field picker."""
    lang = negotiate(request)
    t = translator(lang)

    def pick(ja: str | None, en: str | None = None) -> str:
        """The English text when English is chosen and there is one, else the Japanese."""
        if lang == "en" and en:
            return en
        return ja or en or ""

    return {
        "request": request,
        "lang": lang,
        "other_lang": "en" if lang == "ja" else "ja",
        "t": t,
        "pick": pick,
        "csrf_input": lambda: csrf_input(request),
        "here": current_path(request),
        "nav": "",
    }


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """Render a page with the base context, and set the cookies it depends on."""
    full = base_context(request)
    full.update(context)
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    set_csrf_cookie(request, response)
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and request.cookies.get(LANG_COOKIE) != chosen:
        set_lang_cookie(request, response, str(chosen))
    # Pages depend on the language cookie; shared caches must not mix the languages.
    response.headers["Vary"] = "Cookie"
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


def set_lang_cookie(request: Request, response: Response, lang: str) -> None:
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=_ONE_YEAR,
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.settings.behind_tls),
        path="/",
    )


def html_problem(request: Request, problem: Problem) -> Response:
    """A friendly HTML page for a problem (the browser counterpart of problem+json)."""
    status = problem.status
    t = translator(negotiate(request))
    title_key = f"error.{status}"
    title = t(title_key)
    if title == title_key:
        title = t("error.500") if status >= 500 else t("error.400")
    # The detail of an internal error is generic by construction, so it is safe to show.
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "detail": problem.detail},
        status_code=status,
    )
