"""Reading versions: the list of a dataset's versions, one version, as of a date, and diffs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from tsunagu.accounts import Caller
from tsunagu.kernel import BadRequest, NotFound, ValidationProblem

from ..models import Dataset
from ..services import get_dataset
from .diff import diff
from .models import DatasetVersion

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
MAX_PAGE = 1000


class VersionNotFound(NotFound):
    """The dataset exists but has no such version (or none at or before the date asked for)."""

    slug = "version-not-found"
    title = "No such version of the dataset"


@dataclass(frozen=True)
class VersionPage:
    dataset: Dataset
    total: int
    versions: list[DatasetVersion]


def parse_number(value: str | int, field: str = "version") -> int:
    """A version number: a positive integer (as given in a URL or a CKAN parameter)."""
    if isinstance(value, bool):
        raise BadRequest(f"{field} must be a version number (1, 2, …)", field=field)
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise BadRequest(f"{field} must be a version number (1, 2, …), got {text[:40]!r}",
                         field=field)  # fmt: skip
    return int(text)


def parse_as_of(value: str, field: str = "as_of") -> datetime:
    """A point in time as naive UTC: ``YYYY-MM-DD`` (the end of that day, UTC) or ISO 8601.

    A date-time without an offset is UTC, as every timestamp the APIs give.
    """
    text = value.strip()
    try:
        if _DATE.match(text):
            return datetime.combine(date.fromisoformat(text), time.max)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{field} must be a date (2024-04-01) or date-time (2024-04-01T09:30:00+09:00), "
            f"got {text[:40]!r}",
            field=field,
        ) from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable moment
            raise BadRequest(
                f"{field} is out of range: in UTC it must fall in the years 1 to 9999, "
                f"got {text[:40]!r}",
                field=field,
            ) from None
    return moment


def _visible(caller: Caller | None, dataset: Dataset) -> Any:
    """Versions recorded while the dataset was private show only to its organization."""
    if caller is not None and caller.organization_id == dataset.organization_id:
        return True
    return DatasetVersion.private.is_(False)


def list_versions(
    session: Session, name: str, caller: Caller | None, *, limit: int = 100, offset: int = 0
) -> VersionPage:
    """A dataset's versions, newest first, without their snapshots."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationProblem(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    if offset < 0:
        raise ValidationProblem("offset must not be negative", field="offset")
    ds = get_dataset(session, name, caller)
    where = (DatasetVersion.dataset_pk == ds.pk, _visible(caller, ds))
    total = session.scalar(select(func.count()).select_from(DatasetVersion).where(*where)) or 0
    rows = session.scalars(
        select(DatasetVersion)
        .options(defer(DatasetVersion.snapshot))
        .where(*where)
        .order_by(DatasetVersion.number.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return VersionPage(ds, int(total), list(rows))


def get_version(session: Session, name: str, number: int, caller: Caller | None) -> DatasetVersion:
    ds = get_dataset(session, name, caller)
    row = session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset_pk == ds.pk,
            DatasetVersion.number == number,
            _visible(caller, ds),
        )
    )
    if row is None:
        raise VersionNotFound(f"dataset {name!r} has no version {number}", field="version")
    return row


def version_as_of(
    session: Session, name: str, moment: datetime, caller: Caller | None
) -> DatasetVersion:
    """The version that was current at ``moment`` (naive UTC)."""
    ds = get_dataset(session, name, caller)
    row = session.scalar(
        select(DatasetVersion)
        .where(
            DatasetVersion.dataset_pk == ds.pk,
            DatasetVersion.created <= moment,
            _visible(caller, ds),
        )
        .order_by(DatasetVersion.number.desc())
        .limit(1)
    )
    if row is None:
        raise VersionNotFound(
            f"dataset {name!r} has no version recorded at or before {moment.isoformat()} UTC",
            field="as_of",
        )
    return row


def latest_number(session: Session, ds: Dataset, caller: Caller | None) -> int | None:
    return session.scalar(
        select(func.max(DatasetVersion.number)).where(
            DatasetVersion.dataset_pk == ds.pk, _visible(caller, ds)
        )
    )


def compare(
    session: Session, name: str, caller: Caller | None, old: int | None, new: int | None
) -> tuple[DatasetVersion, DatasetVersion, dict[str, Any]]:
    """Two versions and what changed between them (default: the latest and the one before)."""
    ds = get_dataset(session, name, caller)
    if new is None:
        new = latest_number(session, ds, caller)
        if new is None:
            raise VersionNotFound(f"dataset {name!r} has no versions yet", field="to")
    if old is None:
        old = max(1, new - 1)
    if old > new:
        raise ValidationProblem(f"from ({old}) must not be after to ({new})", field="from")
    before = get_version(session, name, old, caller)
    after = get_version(session, name, new, caller)
    return before, after, diff(before.snapshot, after.snapshot)


def version_meta(version: DatasetVersion) -> dict[str, Any]:
    """A version without its snapshot, as the APIs give it."""
    return {
        "number": version.number,
        "created": version.created.isoformat(),
        "change": version.change,
        "author": {
            "type": version.author_type,
            "ref": version.author_ref,
            "organization": version.author_organization,
        },
        "summary": version.summary,
    }


def snapshot_at(
    session: Session,
    name: str,
    caller: Caller | None,
    *,
    version: str | int | None = None,
    as_of: str | None = None,
) -> dict[str, Any] | None:
    """The package dict of a version (``version``) or as of a time (``as_of``); None: latest."""
    version = None if version == "" else version
    as_of = as_of or None
    if version is not None and as_of is not None:
        raise BadRequest("give version or as_of, not both", field="as_of")
    if version is not None:
        return get_version(session, name, parse_number(version), caller).snapshot
    if as_of is not None:
        return version_as_of(session, name, parse_as_of(as_of), caller).snapshot
    return None
