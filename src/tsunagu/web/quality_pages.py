"""Quality dashboard pages: the whole catalog and one organization (scores, trend, findings)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from tsunagu.catalog.quality import services
from tsunagu.catalog.quality.mqa import MAX_POINTS, indicators
from tsunagu.catalog.quality.rules import rules
from tsunagu.http import get_session

from .render import render

router = APIRouter(include_in_schema=False)
DbSession = Annotated[Session, Depends(get_session)]


def sparkline(trend: list[dict[str, Any]], width: int = 240, height: int = 40) -> str:
    """SVG polyline points of the MQA points over time (0 … 405 bottom to top)."""
    if not trend:
        return ""
    step = width / max(len(trend) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - height * t['mqa_points'] / MAX_POINTS:.1f}"
        for i, t in enumerate(trend)
    )


def _context(data: dict[str, Any]) -> dict[str, Any]:
    return data | {
        "nav": "", "spark": sparkline(data["trend"]), "max_points": MAX_POINTS,
        "indicator_list": indicators(), "rule_titles": rules(),
    }  # fmt: skip


@router.get("/quality")
def catalog_quality(request: Request, session: DbSession) -> Response:
    return render(request, "quality.html", _context(services.catalog_quality(session)))


@router.get("/quality/{name}")
def organization_quality(name: str, request: Request, session: DbSession) -> Response:
    data = services.organization_quality(session, name)
    return render(request, "quality_organization.html", _context(data))
