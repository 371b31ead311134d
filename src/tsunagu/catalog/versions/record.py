"""Recording versions, in the transaction of the change: one row per changed dataset.

Every write path of the catalog calls one of these after its change is flushed: the services
(REST and CKAN API writes) through :func:`record_version`, the bulk writer (seed, harvest) and
harvest withdrawal through :func:`record_versions`, which builds every row first and inserts
them with one ``executemany``. A write that changes nothing (same snapshot apart from
``metadata_modified``) records no version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, selectinload

from tsunagu.accounts import Caller
from tsunagu.kernel import naive_utcnow

from ..ckan import package_dict
from ..models import Dataset, Distribution
from .diff import is_empty, summarize
from .models import DatasetVersion


@dataclass(frozen=True)
class Author:
    """Who made a change: an API token (of an organization), a harvest job, a seed load."""

    type: str  # token | harvest | seed | system
    ref: str = ""  # the token id, harvest job id or seed source id
    organization: str = ""  # the organization's name at the time (token writes)


SYSTEM = Author("system")


def token_author(caller: Caller | None) -> Author:
    if caller is None:
        return SYSTEM
    return Author("token", str(caller.token_id), caller.organization_name)


def snapshot(ds: Dataset) -> dict[str, Any]:
    """The dataset as stored in a version: its package dict (plain JSON values already)."""
    return package_dict(ds)


def _change(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    if after.get("state") == "deleted":
        return "deleted"
    if before is None:
        return "created"
    if before.get("state") == "deleted":
        return "restored"
    return "updated"


def latest(session: Session, pks: Sequence[int]) -> dict[int, tuple[int, dict[str, Any]]]:
    """The latest version (number, snapshot) of each of these datasets that has one."""
    if not pks:
        return {}
    newest = (
        select(DatasetVersion.dataset_pk, func.max(DatasetVersion.number).label("number"))
        .where(DatasetVersion.dataset_pk.in_(list(pks)))
        .group_by(DatasetVersion.dataset_pk)
        .subquery()
    )
    rows = session.execute(
        select(DatasetVersion.dataset_pk, DatasetVersion.number, DatasetVersion.snapshot).join(
            newest,
            (newest.c.dataset_pk == DatasetVersion.dataset_pk)
            & (newest.c.number == DatasetVersion.number),
        )
    )
    return {pk: (number, snap) for pk, number, snap in rows}


def _row(
    pk: int,
    after: dict[str, Any],
    previous: tuple[int, dict[str, Any]] | None,
    author: Author,
    now: datetime,
    *,
    known_new: bool,
) -> dict[str, Any] | None:
    before = previous[1] if previous else None
    summary = summarize(before, after)
    if before is not None and is_empty(summary) and before.get("state") == after.get("state"):
        return None  # nothing changed
    change = _change(before, after)
    if before is None and not known_new:
        # A dataset from before versioning (migration 0012) changed by a bulk path: its earlier
        # state was not recorded, so this version cannot say what changed.
        summary["no_previous"] = True
        change = "updated" if change == "created" else change
    return {
        "dataset_pk": pk,
        "number": previous[0] + 1 if previous else 1,
        "created": now,
        "change": change,
        "author_type": author.type,
        "author_ref": author.ref[:200],
        "author_organization": author.organization[:100],
        "summary": summary,
        "private": bool(after.get("private")),
        "snapshot": after,
    }


def record_version(
    session: Session, ds: Dataset, author: Author, *, new: bool = False
) -> DatasetVersion | None:
    """Record ``ds`` as it is now as its next version; None if nothing changed since the last.

    Call after the change is flushed (the dataset row is then locked on PostgreSQL, so two
    writers of one dataset cannot take the same version number).
    """
    # Relationships set through ids (licence, organization) may hold the old objects.
    session.expire(ds, ["license", "organization", "source", "services"])
    row = _row(
        ds.pk, snapshot(ds), latest(session, [ds.pk]).get(ds.pk), author, naive_utcnow(),
        known_new=new,
    )  # fmt: skip
    if row is None:
        return None
    version = DatasetVersion(**row)
    session.add(version)
    session.flush()
    return version


def record_baseline(session: Session, ds: Dataset) -> None:
    """Before changing a dataset that has no version yet, record how it is (from before 0012)."""
    # Lock the dataset row first (PostgreSQL), so two first writers cannot both write number 1.
    session.execute(select(Dataset.pk).where(Dataset.pk == ds.pk).with_for_update())
    if session.scalar(select(DatasetVersion.id).where(DatasetVersion.dataset_pk == ds.pk).limit(1)):
        return
    after = snapshot(ds)
    session.add(
        DatasetVersion(
            dataset_pk=ds.pk, number=1, created=naive_utcnow(), change="baseline",
            author_type=SYSTEM.type, author_ref="", author_organization="",
            summary=summarize(None, after), private=bool(after.get("private")), snapshot=after,
        )
    )  # fmt: skip
    session.flush()


def load_datasets(session: Session, pks: Sequence[int]) -> list[Dataset]:
    """Datasets with everything a snapshot and the search index read, fresh from the database.

    ``populate_existing``: bulk writes change rows behind the identity map's back.
    """
    if not pks:
        return []
    query = (
        select(Dataset)
        .where(Dataset.pk.in_(list(pks)))
        .options(
            selectinload(Dataset.distributions).selectinload(Distribution.elements),
            selectinload(Dataset.tags),
            selectinload(Dataset.groups),
            selectinload(Dataset.municipalities),
            selectinload(Dataset.services),
        )
        .execution_options(populate_existing=True)
    )
    rows = {d.pk: d for d in session.scalars(query)}
    return [rows[pk] for pk in pks if pk in rows]


def record_versions(
    session: Session, datasets: Sequence[Dataset], author: Author, *, new: frozenset[int]
) -> int:
    """Record a version of each dataset (``new``: pks just inserted); one executemany."""
    now = naive_utcnow()
    previous = latest(session, [d.pk for d in datasets])
    rows = [
        row
        for ds in datasets
        if (row := _row(ds.pk, snapshot(ds), previous.get(ds.pk), author, now,
                        known_new=ds.pk in new)) is not None
    ]  # fmt: skip
    if rows:
        session.execute(insert(DatasetVersion), rows)
    return len(rows)
