"""HTTP routes of the trust context: the signed trust list, the CRL and the RFC 3161 TSA.

``POST /tsa`` follows RFC 3161 §3.4 (HTTP transport): ``application/timestamp-query`` in,
``application/timestamp-reply`` out; a refused request is still a 200 with a ``rejection``
TimeStampResp carrying its failInfo, as the RFC asks.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from tsunagu.http import get_session
from tsunagu.kernel import Problem, Settings

from .errors import TrustError
from .services import Hub, answer_timestamp_query, crl_der, open_hub
from .timestamp import QUERY_TYPE, REPLY_TYPE
from .trustlist import MEDIA_TYPE, ServiceEntry, build_trust_list, sign_trust_list

router = APIRouter(tags=["Trust"])
_lock = threading.Lock()
SessionDep = Annotated[Session, Depends(get_session)]
PROBLEM = {"description": "Problem (RFC 9457)", "content": {"application/problem+json": {}}}


class UnsupportedMediaType(TrustError):
    slug = "unsupported-media-type"
    title = "Unsupported media type"
    status = 415


def get_hub(request: Request) -> Hub:
    """The hub's trust material, opened once per app (development mode creates it)."""
    return hub_of(request.app)


def hub_of(app: Any) -> Hub:
    """:func:`get_hub` for code outside a request (the hub's background work)."""
    hub: Hub | None = getattr(app.state, "trust_hub", None)
    if hub is None:
        with _lock:  # two first requests must not both generate a CA
            hub = getattr(app.state, "trust_hub", None)
            if hub is None:
                hub = app.state.trust_hub = open_hub(app.state.settings)
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


@router.get(
    "/trust/list",
    summary="The signed trust list (global configuration), a compact JWS",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPE: {}}}, 503: PROBLEM},
)
def trust_list(request: Request, session: SessionDep, hub: HubDep) -> Response:
    settings: Settings = request.app.state.settings
    document = build_trust_list(
        session, hub, base_url=settings.effective_base_url,
        validity_seconds=settings.trust_list_validity, tsa_url=settings.tsa_url,
        log_vkey_file=settings.trust_log_vkey_file,
        services=_services(request, session),
    )  # fmt: skip
    return Response(
        sign_trust_list(document, hub),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "max-age=60"},
    )


def _services(request: Request, session: Session) -> list[ServiceEntry]:
    """The mesh's declared services (the composition root sets the provider; trust is lower)."""
    provider = getattr(request.app.state, "trust_services", None)
    return list(provider(session)) if provider is not None else []


@router.get(
    "/trust/crl",
    summary="The platform CA's certificate revocation list (DER, RFC 5280)",
    response_class=Response,
    responses={200: {"content": {"application/pkix-crl": {}}}, 503: PROBLEM},
)
def crl(session: SessionDep, hub: HubDep) -> Response:
    return Response(crl_der(session, hub), media_type="application/pkix-crl")


@router.post(
    "/tsa",
    summary="RFC 3161 time-stamp authority (application/timestamp-query)",
    response_class=Response,
    responses={200: {"content": {REPLY_TYPE: {}}}, 413: PROBLEM, 415: PROBLEM, 503: PROBLEM},
    # timestamp() reads the DER TimeStampReq itself, so FastAPI cannot describe it.
    openapi_extra={"requestBody": {"required": True, "content": {
        QUERY_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
)  # fmt: skip
async def timestamp(request: Request, hub: HubDep) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip() != QUERY_TYPE:
        raise UnsupportedMediaType(f"send the DER TimeStampReq as {QUERY_TYPE}")
    body = await request.body()
    session: Session = request.app.state.sessionmaker()
    try:
        reply = answer_timestamp_query(session, hub, body)
        session.commit()  # the serial is durable before the token leaves
    except Problem:
        session.rollback()
        raise
    finally:
        session.close()
    return Response(reply, media_type=REPLY_TYPE)
