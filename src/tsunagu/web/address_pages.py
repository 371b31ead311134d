"""The address search page: what a person writes → the address base registry's identifiers."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from tsunagu.http import rate_limit
from tsunagu.kernel import BadRequest
from tsunagu.registries.address.geocoder import app_geocoder

from .i18n import negotiate, translator
from .render import render

router = APIRouter(include_in_schema=False)
MAX_CHARS = 200
TARGETS = ("all", "residential", "parcel")


@router.get("/address", dependencies=[Depends(rate_limit("search"))])
def address_search(request: Request) -> Response:
    t = translator(negotiate(request))
    params = request.query_params
    unknown = [name for name in params if name not in ("q", "target", "lang")]
    if unknown:
        raise BadRequest(t("bad.param", name=unknown[0][:50], allowed="q, target, lang"))
    q = params.get("q", "").strip()
    target = params.get("target", "all")
    if target not in TARGETS:
        raise BadRequest(t("address.bad_target"))
    if len(q) > MAX_CHARS:
        raise BadRequest(t("address.too_long", max=MAX_CHARS))
    result = app_geocoder(request.app.state).geocode(q, target) if q else None
    return render(
        request,
        "address.html",
        {"nav": "address", "q": q, "target": target, "targets": TARGETS, "result": result},
    )
