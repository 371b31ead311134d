"""CSRF protection for HTML forms: a random token in a signed cookie, echoed by each form.

Double-submit with a signature: the cookie holds ``token`` signed with the app's secret key, the
form field holds ``token``. A cross-site page can neither read the cookie (HttpOnly, and the
browser does not show it to other origins) nor forge one (it lacks the key), so it cannot post
a matching pair. SameSite=Lax on the cookie is a second line of defence.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, Signer
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response

from tsunagu.kernel import Forbidden

CSRF_COOKIE = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SALT = "tsunagu.web.csrf"
_NEW = "csrf_new_token"


def _signer(request: Request) -> Signer:
    return Signer(request.app.state.secret_key, salt=_SALT)


def _cookie_token(request: Request) -> str | None:
    raw = request.cookies.get(CSRF_COOKIE)
    if not raw:
        return None
    try:
        return _signer(request).unsign(raw).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        return None


def csrf_token(request: Request) -> str:
    """This client's token; a new one (set as a cookie by :func:`set_csrf_cookie`) if needed."""
    token = _cookie_token(request) or getattr(request.state, _NEW, None)
    if token is None:
        token = secrets.token_urlsafe(32)
        setattr(request.state, _NEW, token)
    return str(token)


def csrf_input(request: Request) -> Markup:
    """The hidden form field carrying the token (the ``csrf_input()`` template helper)."""
    value = escape(csrf_token(request))
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{value}">')  # noqa: S704


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Send the cookie if this request minted a token for a form it rendered."""
    token = getattr(request.state, _NEW, None)
    if token is None:
        return
    response.set_cookie(
        CSRF_COOKIE,
        _signer(request).sign(token).decode("ascii"),
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.settings.behind_tls),
        path="/",
    )


async def require_csrf(request: Request) -> None:
    """FastAPI dependency: reject an unsafe request without the token matching its cookie."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = _cookie_token(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # cached by Starlette, so the endpoint can read it too
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        raise Forbidden(
            "the form's CSRF token is missing or does not match its cookie; "
            "reload the page and submit the form again",
        )
