"""REST API of quality at ``/api/v1/quality``: the catalog's, an organization's and a dataset's
figures, and a machine-readability check of an uploaded file.

URL checks and file downloads run in the background job (``tsunagu catalog quality``), never in
a request; the figures here are what the last run stored.
"""

from __future__ import annotations

import tempfile
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tsunagu.accounts import Caller
from tsunagu.http import get_session, require_caller

from . import services
from .mqa import indicators, ratings
from .readability import check_file
from .rules import rules

router = APIRouter(prefix="/api/v1/quality", tags=["Quality"])
SessionDep = Annotated[Session, Depends(get_session)]
WriterDep = Annotated[Caller, Depends(require_caller)]


def _base(request: Request) -> str:
    return str(request.app.state.settings.effective_base_url)


@router.get("", summary="The catalog's quality: latest scores, trend, organizations, worst files")
def catalog(session: SessionDep) -> dict[str, Any]:
    return services.catalog_quality(session)


@router.get("/rules", summary="The machine-readability rules and the MQA indicators")
def rule_list() -> dict[str, Any]:
    return {
        "machine_readability": [
            {"id": r.id, "title_ja": r.title_ja, "title_en": r.title_en} for r in rules().values()
        ],
        "mqa_indicators": [i.__dict__ for i in indicators()],
        "mqa_ratings": [
            {"rating": n, "min_points": lo, "max_points": hi} for n, lo, hi in ratings()
        ],
    }


@router.get("/organizations/{name}", summary="An organization's quality and its datasets")
def organization(name: str, session: SessionDep) -> dict[str, Any]:
    return services.organization_quality(session, name)


@router.get("/datasets/{name}", summary="A dataset's MQA score, 5-star ratings and file findings")
def dataset(name: str, request: Request, session: SessionDep) -> dict[str, Any]:
    return services.dataset_quality(session, name, base=_base(request))


# check() reads the body itself (any content type), so FastAPI cannot describe it.
FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("/check", summary="Check an uploaded CSV or XLSX file against the 15 rules",
             openapi_extra=FILE_BODY)  # fmt: skip
async def check(
    request: Request, caller: WriterDep,
    name: Annotated[str, Query(max_length=300)] = "",
    lang: Literal["ja", "en"] = "ja",
) -> dict[str, Any]:  # fmt: skip
    """The request body is the file itself (any content type); nothing is stored."""
    del caller  # a token keeps anonymous clients from using the checker as free CPU
    limit = int(request.app.state.settings.quality_max_bytes)
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        report = await run_in_threadpool(check_file, spool, name, max_bytes=limit)
    return report.as_dict(lang)
