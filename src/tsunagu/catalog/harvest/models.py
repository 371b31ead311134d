"""Tables of harvesting: sources, one job per run, and the per-record errors of a job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tsunagu.db import Base
from tsunagu.kernel import naive_utcnow


class HarvestSource(Base):
    """A remote catalog harvested into ours: a CKAN Action API or a DCAT RDF document."""

    __tablename__ = "harvest_source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # slug; catalog source harvest-…
    url: Mapped[str] = mapped_column(String(2000))
    type: Mapped[str] = mapped_column(String(10))  # ckan | dcat
    organization: Mapped[str] = mapped_column(String(100), default="")  # owner override (--org)
    interval_minutes: Mapped[int | None] = mapped_column(Integer)  # None: run by hand only
    next_run: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)

    jobs: Mapped[list[HarvestJob]] = relationship(
        back_populates="source", order_by="HarvestJob.id.desc()", cascade="all, delete-orphan"
    )


class HarvestJob(Base):
    """One run of a harvest source, with its counts and outcome."""

    __tablename__ = "harvest_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("harvest_source.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|finished|failed
    started: Mapped[datetime] = mapped_column(DateTime, default=naive_utcnow)
    finished: Mapped[datetime | None] = mapped_column(DateTime)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    found: Mapped[int] = mapped_column(Integer, default=0)  # records read at the source
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)  # gone at the source: deleted
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # bad or superseded records
    error: Mapped[str] = mapped_column(Text, default="")  # why the run failed, if it did

    source: Mapped[HarvestSource] = relationship(back_populates="jobs")
    errors: Mapped[list[HarvestRecordError]] = relationship(
        cascade="all, delete-orphan", order_by="HarvestRecordError.id"
    )


class HarvestRecordError(Base):
    """A source record a job could not store, and why."""

    __tablename__ = "harvest_record_error"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(
        ForeignKey("harvest_job.id", ondelete="CASCADE"), index=True
    )
    record: Mapped[str] = mapped_column(String(2000), default="")  # the record's id or URI
    message: Mapped[str] = mapped_column(Text)
