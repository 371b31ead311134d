"""Harvest pages of the catalog site: the sources with their latest run, and one job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from tsunagu.catalog.harvest.api import get_job, list_sources
from tsunagu.http import get_session

from .render import render

router = APIRouter(include_in_schema=False)
DbSession = Annotated[Session, Depends(get_session)]


@router.get("/harvest")
def harvest_sources(request: Request, session: DbSession) -> Response:
    return render(request, "harvest.html", {"nav": "", "sources": list_sources(session)})


@router.get("/harvest/{job_id}")
def harvest_job(job_id: int, request: Request, session: DbSession) -> Response:
    return render(request, "harvest_job.html", {"nav": "", "job": get_job(session, job_id)})
