"""REST API of harvesting at ``/api/v1/harvest``: sources, their jobs, one job with its errors.

Runs happen in the CLI (``tsunagu catalog harvest``) or its scheduler, never in a request: a
source may take minutes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tsunagu.accounts import MAX_ROW_ID, Caller
from tsunagu.http import get_session, require_caller
from tsunagu.http.openapi import PROBLEM
from tsunagu.kernel import Forbidden, InputModel, NotFound, ValidationProblem

from .fetch import HarvestError
from .models import HarvestJob, HarvestSource
from .run import MAX_INTERVAL_MINUTES, ensure_source, source_name

router = APIRouter(prefix="/api/v1/harvest", tags=["Harvesting"])
SessionDep = Annotated[Session, Depends(get_session)]
WriterDep = Annotated[Caller, Depends(require_caller)]


def job_dict(job: HarvestJob, *, errors: bool = False) -> dict[str, Any]:
    """A job as JSON: counts, outcome and (on request) the per-record errors."""
    out: dict[str, Any] = {
        "id": job.id, "source": job.source.name, "status": job.status,
        "started": job.started.isoformat(),
        "finished": job.finished.isoformat() if job.finished else None,
        "pages": job.pages, "found": job.found, "inserted": job.inserted,
        "updated": job.updated, "unchanged": job.unchanged, "withdrawn": job.withdrawn,
        "skipped": job.skipped, "error": job.error,
    }  # fmt: skip
    if errors:
        out["errors"] = [{"record": e.record, "message": e.message} for e in job.errors]
    return out


def source_dict(source: HarvestSource, last: HarvestJob | None) -> dict[str, Any]:
    return {
        "name": source.name, "url": source.url, "type": source.type,
        "organization": source.organization or None,
        "interval_minutes": source.interval_minutes,
        "next_run": source.next_run.isoformat() if source.next_run else None,
        "last_job": job_dict(last) if last else None,
    }  # fmt: skip


def list_sources(session: Session) -> list[tuple[HarvestSource, HarvestJob | None]]:
    """Every source with its latest job."""
    sources = session.scalars(select(HarvestSource).order_by(HarvestSource.name)).all()
    out = []
    for source in sources:
        last = session.scalar(
            select(HarvestJob).where(HarvestJob.source_id == source.id)
            .order_by(HarvestJob.id.desc()).limit(1)
        )  # fmt: skip
        out.append((source, last))
    return out


def get_job(session: Session, job_id: int) -> HarvestJob:
    if not 0 < job_id <= MAX_ROW_ID:  # no such row, and the database could not even compare it
        raise NotFound(f"harvest job {job_id} not found")
    job = session.scalar(
        select(HarvestJob).where(HarvestJob.id == job_id).options(selectinload(HarvestJob.errors))
    )
    if job is None:
        raise NotFound(f"harvest job {job_id} not found")
    return job


class SourceIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(max_length=2000)]
    type: Literal["ckan", "dcat"]
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")] | None = None
    organization: Annotated[str, Field(max_length=100)] = ""
    # Bounded: the scheduler adds it to a date (a huge number overflows the database).
    interval_minutes: Annotated[int, Field(ge=5, le=MAX_INTERVAL_MINUTES)] | None = None


@router.get("/sources", summary="Harvest sources with their latest job")
def sources(session: SessionDep) -> dict[str, Any]:
    return {"sources": [source_dict(s, last) for s, last in list_sources(session)]}


@router.post("/sources", status_code=201, summary="Add or change a harvest source",
             responses={403: PROBLEM})  # fmt: skip
def add_source(body: SourceIn, session: SessionDep, caller: WriterDep) -> dict[str, Any]:
    """Register a source (needs an API token); the scheduler runs it every interval.

    Through the API an organization harvests into itself: every record of the source is
    filed under the caller's organization, and only a source filed under it can be changed.
    Otherwise any token could point another organization's source at a catalog of its own
    choosing. Sources filed by publisher (no owner) are the operator's: ``tsunagu harvest``.
    """
    own = caller.organization_name
    if body.organization and body.organization != own:
        raise Forbidden(
            f"a token of {own!r} can file harvested records only under {own!r}, "
            f"not {body.organization!r}"
        )
    existing = session.scalar(
        select(HarvestSource).where(HarvestSource.name == (body.name or source_name(body.url)))
    )
    if existing is not None and existing.organization != own:
        raise Forbidden(f"harvest source {existing.name!r} is not {own!r}'s")
    try:
        source = ensure_source(
            session, body.url, body.type, name=body.name, organization=own,
            interval_minutes=body.interval_minutes,
        )  # fmt: skip
    except HarvestError as exc:
        raise ValidationProblem(str(exc), field="url") from exc
    session.commit()
    return source_dict(source, None)


@router.get("/sources/{name}/jobs", summary="The jobs of one source, newest first")
def source_jobs(name: str, session: SessionDep) -> dict[str, Any]:
    source = session.scalar(select(HarvestSource).where(HarvestSource.name == name))
    if source is None:
        raise NotFound(f"harvest source {name!r} not found")
    return {"jobs": [job_dict(j) for j in source.jobs[:100]]}


@router.get("/jobs/{job_id}", summary="One harvest job with its per-record errors")
def job(job_id: int, session: SessionDep) -> dict[str, Any]:
    return job_dict(get_job(session, job_id), errors=True)
