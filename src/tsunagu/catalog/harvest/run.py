"""Run a harvest: read every page, then store all records in one transaction, then withdraw.

Rules (documented in docs/harvesting.md):

* Nothing is stored half: the whole source is read first; a fetch, parse or paging error fails
  the job and writes no dataset. A record that cannot be mapped is an error *of that record*
  (kept on the job) and the others are stored.
* Idempotent: records keep their source ids (CKAN ``id``; DCAT: a UUID derived from the dataset
  URI), so a second run updates instead of duplicating. A record whose content is unchanged is
  left alone; a changed one is replaced (:func:`tsunagu.catalog.bulk.write_datasets`).
* Withdrawal: a dataset of this source that the source no longer lists gets ``state="deleted"``
  (out of search and pages, kept for history); if it comes back it is revived.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tsunagu.kernel import naive_utcnow

from ..bulk import newest_per_name, upsert_source, write_datasets
from ..ckan_records import package_to_record
from ..licenses import ensure_licenses
from ..models import Dataset, Source
from ..records import BadRecord, DatasetRecord, OrgRecord
from ..search import unindex
from ..versions.record import Author, load_datasets, record_versions
from .dcat_records import dataset_record, datasets_in
from .fetch import HarvestError, Limits, new_client
from .models import HarvestJob, HarvestRecordError, HarvestSource
from .pages import ckan_pages, dcat_pages

Progress = Callable[[int, int], None]  # (pages read, records read)
MAX_RECORD_ERRORS = 1000  # a job keeps this many per-record errors; the rest are only counted


def source_id(source: HarvestSource) -> str:
    """The catalog Source row of a harvest source (attribution on dataset pages)."""
    return f"harvest-{source.name}"[:100]


def source_name(url: str) -> str:
    """A default harvest-source name for a URL (its host and path as a slug)."""
    host = re.sub(r"^https?://", "", url.split("?", 1)[0]).lower()
    return re.sub(r"[^a-z0-9]+", "-", host).strip("-")[:80] or "source"


@dataclass
class Harvested:
    """What one run read from its source."""

    records: list[DatasetRecord] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    pages: int = 0
    found: int = 0


def _override(org: OrgRecord | None) -> Callable[[OrgRecord], OrgRecord] | None:
    return (lambda _: org) if org is not None else None


def collect(
    source: HarvestSource,
    client: httpx.Client,
    limits: Limits,
    *,
    owner: OrgRecord | None = None,
    progress: Progress | None = None,
) -> Harvested:
    """Read every page of ``source``; raises :class:`HarvestError` if the run cannot finish."""
    out = Harvested()
    now = naive_utcnow().replace(microsecond=0)

    def accept(record: DatasetRecord) -> None:
        if owner is not None:
            record.organization = owner
        out.records.append(record)
        if len(out.records) > limits.max_datasets:
            raise HarvestError(
                f"the source lists more than {limits.max_datasets} datasets (harvest_max_datasets)"
            )

    if source.type == "ckan":
        for _, packages in ckan_pages(client, source.url, limits):
            out.pages += 1
            for pkg in packages:
                out.found += 1
                try:
                    accept(package_to_record(pkg, organization=_override(owner)))
                except (BadRecord, ValueError, KeyError, TypeError, AttributeError) as exc:
                    ref = pkg.get("name") or pkg.get("id") if isinstance(pkg, dict) else None
                    out.errors.append((str(ref or "?"), str(exc)))
            if progress:
                progress(out.pages, out.found)
    elif source.type == "dcat":
        for _, graph in dcat_pages(client, source.url, limits):
            out.pages += 1
            for node in datasets_in(graph):
                out.found += 1
                try:
                    accept(dataset_record(graph, node, source.name[:30], now))
                except (BadRecord, ValueError, TypeError) as exc:
                    out.errors.append((str(node), str(exc)))
            if progress:
                progress(out.pages, out.found)
    else:
        raise HarvestError(f"unknown source type {source.type!r} (ckan or dcat)")
    return out


def _fingerprint(record: DatasetRecord) -> str:
    data = asdict(record)
    for key in ("metadata_created", "metadata_modified"):
        data.pop(key)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _stamp(session: Session, records: list[DatasetRecord], now: datetime) -> list[DatasetRecord]:
    """Give each record a fingerprint; a changed record gets ``metadata_modified = now``.

    DCAT sources rarely give a trustworthy modification time, so "changed" means "its content
    differs from what the last run stored" — the writer then replaces exactly those.
    """
    known: dict[str, tuple[str, datetime]] = {}
    ids = [r.id for r in records]
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Dataset.id, Dataset.extras, Dataset.metadata_modified).where(
                Dataset.id.in_(ids[start : start + 500])
            )
        )
        for did, extras, modified in rows:
            known[did] = (str((extras or {}).get("harvest_fingerprint", "")), modified)
    stamped = []
    for record in records:
        fingerprint = _fingerprint(record)
        extras = record.extras | {"harvest_fingerprint": fingerprint}
        previous = known.get(record.id)
        if previous is None:
            modified = record.metadata_modified
        elif previous[0] == fingerprint:
            modified = previous[1]  # unchanged: the writer leaves it alone
        else:
            modified = max(now, previous[1] + timedelta(seconds=1))
        created = min(record.metadata_created, modified)
        stamped.append(replace(record, extras=extras, metadata_modified=modified,
                               metadata_created=created))  # fmt: skip
    return stamped


def _withdraw(session: Session, sid: str, keep: set[str], author: Author) -> int:
    gone = [
        pk
        for pk, did in session.execute(
            select(Dataset.pk, Dataset.id).where(
                Dataset.source_id == sid, Dataset.state == "active"
            )
        )
        if did not in keep
    ]
    for start in range(0, len(gone), 500):
        part = gone[start : start + 500]
        session.execute(
            update(Dataset).where(Dataset.pk.in_(part))
            .values(state="deleted", metadata_modified=naive_utcnow())
        )  # fmt: skip
        unindex(session, part)
        record_versions(session, load_datasets(session, part), author, new=frozenset())
    return len(gone)


def store(session: Session, source: HarvestSource, harvested: Harvested, job: HarvestJob) -> None:
    """Write the harvested records and withdraw what the source no longer lists."""
    sid = source_id(source)
    ensure_licenses(session)  # records refer to licence rows; a new installation may lack them
    upsert_source(
        session,
        Source(id=sid, title=f"Harvest: {source.name}", url=source.url,
               attribution=f"Harvested from {source.url}", license=""),
    )  # fmt: skip
    records, duplicates = newest_per_name(harvested.records)
    records = _stamp(session, records, naive_utcnow().replace(microsecond=0))
    author = Author("harvest", str(job.id or ""))
    stats = write_datasets(session, sid, records, revive=True, label=source.name, author=author)
    job.inserted, job.updated, job.unchanged = stats.inserted, stats.updated, stats.unchanged
    job.skipped = len(harvested.errors) + duplicates + stats.superseded
    job.withdrawn = _withdraw(session, sid, {r.id for r in records}, author)


def run_harvest(
    session: Session,
    source: HarvestSource,
    limits: Limits,
    *,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
) -> HarvestJob:
    """One harvest run with its job record; commits the job (and the data, if it succeeded)."""
    job = HarvestJob(source=source, started=naive_utcnow())
    session.add(job)
    session.commit()
    owner = _owner(session, source)
    own_client = client is None
    http = client or new_client()
    try:
        harvested = collect(source, http, limits, owner=owner, progress=progress)
        job.pages, job.found = harvested.pages, harvested.found
        for ref, message in harvested.errors[:MAX_RECORD_ERRORS]:
            job.errors.append(HarvestRecordError(record=ref[:2000], message=message[:2000]))
        store(session, source, harvested, job)
        job.status = "finished"
    except HarvestError as exc:
        session.rollback()  # nothing of this run's data stays
        job = session.get(HarvestJob, job.id) or job
        job.status, job.error = "failed", str(exc)[:5000]
    finally:
        if own_client:
            http.close()
    job.finished = naive_utcnow()
    if source.interval_minutes:
        source.next_run = job.finished + timedelta(minutes=source.interval_minutes)
    session.commit()
    return job


def _owner(session: Session, source: HarvestSource) -> OrgRecord | None:
    """The organization every record is filed under (``--org``), if one is set."""
    if not source.organization:
        return None
    from tsunagu.accounts import get_organization

    org = get_organization(session, source.organization)
    return OrgRecord(name=org.name, title=org.title, title_en=org.title_en,
                     corporate_number=org.corporate_number, lg_code=org.lg_code)  # fmt: skip


def due_sources(session: Session, now: datetime | None = None) -> list[HarvestSource]:
    """Scheduled sources whose next run is due (never run ones first)."""
    now = now or naive_utcnow()
    rows = session.scalars(
        select(HarvestSource)
        .where(HarvestSource.interval_minutes.is_not(None))
        .where((HarvestSource.next_run.is_(None)) | (HarvestSource.next_run <= now))
        .order_by(HarvestSource.next_run.is_not(None), HarvestSource.next_run)
    )
    return list(rows)


MAX_INTERVAL_MINUTES = 31 * 24 * 60  # a month


def ensure_source(
    session: Session,
    url: str,
    kind: str,
    *,
    name: str | None = None,
    organization: str = "",
    interval_minutes: int | None = None,
) -> HarvestSource:
    """The harvest source for ``url`` (by name), created or updated with these settings."""
    if kind not in ("ckan", "dcat"):
        raise HarvestError(f"unknown source type {kind!r} (ckan or dcat)")
    if not url.startswith(("http://", "https://")):
        raise HarvestError(f"{url!r} is not an http(s) URL")
    if interval_minutes is not None and not 5 <= interval_minutes <= MAX_INTERVAL_MINUTES:
        raise HarvestError(f"the interval must be 5 to {MAX_INTERVAL_MINUTES} minutes")
    name = name or source_name(url)
    row = session.scalar(select(HarvestSource).where(HarvestSource.name == name))
    if row is None:
        row = HarvestSource(name=name, url=url, type=kind)
        session.add(row)
    row.url, row.type, row.organization = url, kind, organization
    row.interval_minutes = interval_minutes
    session.flush()
    return row


def limits_from(settings: Any) -> Limits:
    return Limits(
        max_pages=settings.harvest_max_pages,
        max_datasets=settings.harvest_max_datasets,
        max_bytes=settings.harvest_max_bytes,
        timeout=settings.harvest_timeout,
    )
