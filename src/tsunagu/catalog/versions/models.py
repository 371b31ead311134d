"""The version table: one row per change of a dataset, with the dataset as it was afterwards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db import Base


class DatasetVersion(Base):
    """A version of a dataset: who changed it, when, what, and the whole record afterwards.

    ``snapshot`` is the CKAN package dict (distributions and data dictionary included) as it was
    right after the change, so a version is shown without replaying anything; diffs are computed
    on read. Versions go with their dataset if it is ever removed for good (a harvest or seed
    record giving way to another of the same name); a CKAN-style delete keeps them.
    """

    __tablename__ = "dataset_version"
    __table_args__ = (UniqueConstraint("dataset_pk", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_pk: Mapped[int] = mapped_column(ForeignKey("dataset.pk", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 … per dataset
    created: Mapped[datetime] = mapped_column(DateTime)  # naive UTC, when it was recorded
    change: Mapped[str] = mapped_column(String(20))  # created|updated|deleted|restored|baseline
    author_type: Mapped[str] = mapped_column(String(20))  # token|harvest|seed|system
    author_ref: Mapped[str] = mapped_column(String(200), default="")  # token/job/source id
    author_organization: Mapped[str] = mapped_column(String(100), default="")  # its name then
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)  # changed fields, resource counts
    private: Mapped[bool] = mapped_column(Boolean, default=False)  # the snapshot's own flag
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
