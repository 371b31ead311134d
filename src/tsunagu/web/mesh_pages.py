"""The node's admin page (``/admin/mesh``): status, services and their access rules, local
systems' client certificates, subscriptions, dead letters and the latest messages, with forms to
add and remove rules, register and revoke certificates, resume subscriptions and replay dead
letters.

Operators sign in with the browser's own HTTP Basic prompt, the password being one of the
node's API tokens (RFC 7617; the user name is ignored). No session cookie to steal, no login
form to build. Forms carry the site's CSRF token, since browsers resend Basic credentials on
their own.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tsunagu.accounts import authenticate
from tsunagu.http import get_session
from tsunagu.http.deps import new_session
from tsunagu.kernel import Problem
from tsunagu.mesh import localtls, push
from tsunagu.mesh import services as mesh_services
from tsunagu.mesh.api import law_known, runtime
from tsunagu.mesh.models import MessageRecord
from tsunagu.mesh.runtime import NodeRuntime

from .csrf import require_csrf
from .render import STATIC_DIR, render

router = APIRouter(include_in_schema=False)
DbSession = Annotated[Session, Depends(get_session)]
REALM = 'Basic realm="tsunagu node", charset="UTF-8"'


def challenge() -> Response:
    """401 with the Basic challenge, so the browser asks for a token."""
    return Response(
        "Sign in with one of this node's API tokens as the password.\n",
        status_code=401,
        media_type="text/plain; charset=utf-8",
        headers={"WWW-Authenticate": REALM},
    )


def operator(request: Request) -> str | None:
    """The signed-in organization, or None (the route answers with the challenge)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token = ""
    if scheme.lower() == "basic":
        try:
            token = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            token = ""
    if not token:
        return None
    # A read: authenticate() records last_used only if the write lock is free (http.deps).
    with new_session(request, write=False) as session:
        try:
            caller = authenticate(session, token)
        except Problem:
            return None
        session.commit()
        return caller.organization_name


Operator = Annotated[str | None, Depends(operator)]
Node = Annotated[NodeRuntime, Depends(runtime)]


def _context(rt: NodeRuntime, session: Session) -> dict[str, Any]:
    services = [
        (service, mesh_services.rules(session, service.id))
        for service in mesh_services.services(session)
    ]
    messages = session.scalars(
        select(MessageRecord).order_by(MessageRecord.id.desc()).limit(50)
    ).all()
    try:
        trust = rt.trust_cache.current()
        trust_state = f"{trust.issued_at:%Y-%m-%d %H:%M} – {trust.expires_at:%Y-%m-%d %H:%M} UTC"
    except Exception as exc:  # shown on the page: the operator must see it
        trust_state = f"unavailable: {exc}"
    return {
        "member": rt.member_base,
        "not_after": rt.identity.certificate.not_valid_after_utc,
        "trust_state": trust_state,
        "queues": push.due_counts(session),
        "services": services,
        "local_tls_url": (
            f"https://{rt.settings.node_local_tls_host}:{rt.settings.node_local_tls_port}"
            if rt.settings.node_local_tls_port
            else None
        ),
        "certificates": [(row, localtls.status(row)) for row in localtls.listing(session)],
        "subscriptions": push.subscriptions(session),
        "dead_letters": push.dead_letters(session, 50),
        "messages": messages,
        "error": None,
    }


@router.get("/admin/mesh")
def admin(request: Request, session: DbSession, rt: Node, who: Operator) -> Response:
    if who is None:
        return challenge()
    context = _context(rt, session)
    context["operator"] = who
    return render(request, "mesh_admin.html", context)


@router.post("/admin/mesh/services/{service_id}/rules", dependencies=[Depends(require_csrf)])
def add_rule(
    request: Request,
    service_id: int,
    session: DbSession,
    rt: Node,
    who: Operator,
    client: Annotated[str, Form(max_length=200)],
    purposes: Annotated[str, Form(max_length=2000)],
    legal_basis: Annotated[str, Form(max_length=200)],
    allow_subscribe: Annotated[bool, Form()] = False,
) -> Response:
    if who is None:
        return challenge()
    chosen = [p for p in purposes.replace(",", " ").split() if p]
    try:
        mesh_services.add_rule(
            session,
            service_id,
            client.strip(),
            chosen,
            legal_basis.strip(),
            allow_subscribe=allow_subscribe,
            known_law=law_known(session),
        )
        session.commit()
    except Problem as exc:
        form = {"client": client, "purposes": purposes, "legal_basis": legal_basis}
        return _refused(request, rt, session, who, exc, failed_service=service_id, form=form)
    return RedirectResponse("/admin/mesh#services", status_code=303)


@router.post("/admin/mesh/rules/{rule_id}/delete", dependencies=[Depends(require_csrf)])
def delete_rule(rule_id: int, session: DbSession, who: Operator) -> Response:
    return _act(who, session, lambda: mesh_services.delete_rule(session, rule_id), "services")


@router.post("/admin/mesh/local-certificates", dependencies=[Depends(require_csrf)])
def register_certificate(
    request: Request,
    session: DbSession,
    rt: Node,
    who: Operator,
    name: Annotated[str, Form(max_length=200)],
    certificate: Annotated[str, Form(max_length=20_000)],
) -> Response:
    if who is None:
        return challenge()
    try:
        localtls.register(session, name, certificate)
        session.commit()
    except Problem as exc:
        form = {"name": name, "certificate": certificate}
        return _refused(request, rt, session, who, exc, cert_form=form)
    return RedirectResponse("/admin/mesh#local-certificates", status_code=303)


@router.post(
    "/admin/mesh/local-certificates/{certificate_id}/revoke", dependencies=[Depends(require_csrf)]
)
def revoke_certificate(certificate_id: int, session: DbSession, who: Operator) -> Response:
    return _act(
        who, session, lambda: localtls.revoke(session, certificate_id), "local-certificates"
    )


@router.post(
    "/admin/mesh/subscriptions/{subscription_id}/resume", dependencies=[Depends(require_csrf)]
)
def resume(subscription_id: int, session: DbSession, who: Operator) -> Response:
    return _act(who, session, lambda: push.resume(session, subscription_id), "subscriptions")


@router.post("/admin/mesh/dead-letters/{delivery_id}/replay", dependencies=[Depends(require_csrf)])
def replay(delivery_id: int, session: DbSession, who: Operator) -> Response:
    return _act(who, session, lambda: push.replay(session, delivery_id), "dead-letters")


def _refused(
    request: Request, rt: NodeRuntime, session: Session, who: str, exc: Problem, **form: Any
) -> Response:
    """The page again, with why a form was refused and what was typed in it (``form``)."""
    session.rollback()
    context = _context(rt, session)
    context.update(operator=who, error=exc.detail, **form)
    return render(request, "mesh_admin.html", context, status_code=exc.status)


def _act(who: str | None, session: Session, action: Callable[[], object], section: str) -> Response:
    """An operator's one-step action (remove, revoke, resume, replay), then back to its section."""
    if who is None:
        return challenge()
    action()
    session.commit()
    return RedirectResponse(f"/admin/mesh#{section}", status_code=303)


def install_node(app: FastAPI) -> None:
    """The admin page, its static files and HTML error pages, on a node's local app."""
    from .render import html_problem

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.html_problem_renderer = html_problem
