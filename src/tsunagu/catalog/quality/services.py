"""The quality job (file checks, scores, snapshots) and the figures the dashboard shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tsunagu.accounts.models import Organization
from tsunagu.kernel import NotFound, Problem, naive_utcnow

from ..models import Dataset, Distribution
from .models import FileCheck, QualitySnapshot
from .mqa import Score, mean_score, score_dataset, status_lookup
from .readability import check_file
from .rules import Finding, new_finding
from .stars import normalized_format, stars
from .urls import download, statuses

TABLE_FORMATS = frozenset({"CSV", "XLSX", "XLS", "TSV", "TXT"})
KEEP_FINDINGS = 500  # findings stored per file (the count is exact)


def _file_url(dist: Distribution) -> str:
    return dist.download_url or dist.url


def _table_format(dist: Distribution) -> str:
    fmt = normalized_format(dist.format)
    if fmt in TABLE_FORMATS:
        return fmt
    path = urlsplit(_file_url(dist)).path.lower()
    for suffix, name in ((".csv", "CSV"), (".xlsx", "XLSX"), (".xls", "XLS")):
        if path.endswith(suffix):
            return name
    return ""


def _public_datasets(session: Session, organization: str | None = None) -> list[Dataset]:
    query = (
        select(Dataset)
        .where(Dataset.state == "active", Dataset.private.is_(False))
        .options(
            selectinload(Dataset.distributions),
            selectinload(Dataset.tags),
            selectinload(Dataset.groups),
            selectinload(Dataset.municipalities),
            selectinload(Dataset.services),
        )
        .order_by(Dataset.pk)
    )
    if organization is not None:
        query = query.join(Organization).where(Organization.name == organization)
    return list(session.scalars(query))


def _stored(finding: Finding) -> dict[str, Any]:
    """A finding as stored: fields, message and fix in Japanese and English."""
    return finding.as_dict("ja") | {"message_en": finding.message(), "fix_en": finding.fix()}


def check_distribution(
    session: Session, client: httpx.Client, dist: Distribution, *, max_bytes: int
) -> FileCheck:
    """Fetch and check one distribution's file; the outcome replaces the previous one."""
    row = session.get(FileCheck, dist.pk) or FileCheck(distribution_pk=dist.pk)
    row.checked_at, row.error, row.rows, row.encoding = naive_utcnow(), "", 0, ""
    fmt = _table_format(dist)
    if not fmt:
        finding = new_finding("not-table-format", value=dist.format or "?")
        row.status, row.format = "not-table", normalized_format(dist.format)
        row.findings, row.finding_count = (
            [_stored(finding)],
            1,
        )
    else:
        try:
            with download(client, _file_url(dist), max_bytes) as body:
                report = check_file(body, _file_url(dist), max_bytes=max_bytes)
        except Problem as exc:
            row.status, row.format, row.error = "failed", fmt, exc.detail
            row.findings, row.finding_count = [], 0
        else:
            row.status, row.format, row.encoding = "checked", report.format, report.encoding
            row.rows, row.finding_count = report.rows, len(report.findings)
            row.findings = [_stored(f) for f in report.findings[:KEEP_FINDINGS]]
    session.add(row)
    return row


@dataclass
class RunCounts:
    files: int = 0
    failed: int = 0
    findings: int = 0
    datasets: int = 0


def run_quality(
    session: Session, client: httpx.Client, *, max_bytes: int, base: str,
    progress: Callable[[int, int], None] | None = None,
) -> RunCounts:  # fmt: skip
    """Check every public distribution's file, then score and snapshot everything."""
    counts = RunCounts()
    datasets = _public_datasets(session)
    dists = [d for ds in datasets for d in ds.distributions]
    for number, dist in enumerate(dists, start=1):
        row = check_distribution(session, client, dist, max_bytes=max_bytes)
        session.commit()
        counts.files += 1
        counts.failed += row.status == "failed"
        counts.findings += row.finding_count
        if progress:
            progress(number, len(dists))
    counts.datasets = take_snapshot(session, base=base)
    session.commit()
    return counts


def _findings_by_dataset(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(Distribution.dataset_pk, FileCheck.finding_count).join(
            FileCheck, FileCheck.distribution_pk == Distribution.pk
        )
    ).all()
    out: dict[int, int] = {}
    for dataset_pk, count in rows:
        out[dataset_pk] = out.get(dataset_pk, 0) + count
    return out


def dataset_stars(ds: Dataset) -> list[int]:
    open_licence = bool(ds.license and ds.license.is_open)
    return [
        stars(
            d.format,
            open_licence=open_licence,
            has_url=bool(d.url or d.download_url),
            links_out=bool((ds.extras or {}).get("links_to")),
        )
        for d in ds.distributions
    ]


def take_snapshot(session: Session, *, base: str) -> int:
    """Score every public dataset and store the dataset, organization and catalog figures."""
    lookup = status_lookup(statuses(session))
    findings = _findings_by_dataset(session)
    now = naive_utcnow()
    per_org: dict[str, list[tuple[Score, list[int], int]]] = {}
    datasets = _public_datasets(session)
    for ds in datasets:
        score = score_dataset(ds, lookup, base=base)
        ratings = dataset_stars(ds)
        per_org.setdefault(ds.organization.name, []).append(
            (score, ratings, findings.get(ds.pk, 0))
        )
        session.add(_snapshot("dataset", ds.name, now, [(score, ratings, findings.get(ds.pk, 0))]))
    everything = [item for items in per_org.values() for item in items]
    for name, items in per_org.items():
        session.add(_snapshot("organization", name, now, items))
    session.add(_snapshot("catalog", "", now, everything))
    return len(datasets)


def _snapshot(
    scope: str, key: str, when: Any, items: list[tuple[Score, list[int], int]]
) -> QualitySnapshot:
    score = mean_score(s for s, _, _ in items)
    all_stars = [n for _, ratings, _ in items for n in ratings]
    mean_stars = round(sum(all_stars) / len(all_stars), 2) if all_stars else 0.0
    return QualitySnapshot(
        scope=scope, key=key, taken_at=when, datasets=len(items), mqa_points=score.total,
        mqa_rating=score.rating, stars=mean_stars,
        findings=sum(n for _, _, n in items),
        indicators={k: round(v, 2) for k, v in score.points.items()},
    )  # fmt: skip


# ---- what the dashboard and the API show ---------------------------------------------------


def snapshot_dict(snap: QualitySnapshot) -> dict[str, Any]:
    return {
        "taken_at": snap.taken_at.isoformat(), "datasets": snap.datasets,
        "mqa_points": snap.mqa_points, "mqa_rating": snap.mqa_rating, "stars": snap.stars,
        "findings": snap.findings, "indicators": snap.indicators,
    }  # fmt: skip


def trend(session: Session, scope: str, key: str = "", limit: int = 60) -> list[QualitySnapshot]:
    """Snapshots of one scope, oldest first (the last ``limit``)."""
    rows = session.scalars(
        select(QualitySnapshot).where(QualitySnapshot.scope == scope, QualitySnapshot.key == key)
        .order_by(QualitySnapshot.taken_at.desc(), QualitySnapshot.id.desc()).limit(limit)
    ).all()  # fmt: skip
    return list(reversed(rows))


def latest_by_key(session: Session, scope: str) -> dict[str, QualitySnapshot]:
    rows = session.scalars(
        select(QualitySnapshot).where(QualitySnapshot.scope == scope)
        .order_by(QualitySnapshot.taken_at, QualitySnapshot.id)
    ).all()  # fmt: skip
    return {row.key: row for row in rows}


def worst_findings(
    session: Session, organization: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """The distributions with the most findings, each with its first findings."""
    query = (
        select(FileCheck, Distribution, Dataset)
        .join(Distribution, Distribution.pk == FileCheck.distribution_pk)
        .join(Dataset, Dataset.pk == Distribution.dataset_pk)
        .where(Dataset.private.is_(False), Dataset.state == "active", FileCheck.finding_count > 0)
        .order_by(FileCheck.finding_count.desc(), Distribution.pk)
        .limit(limit)
    )
    if organization is not None:
        query = query.join(Organization, Organization.id == Dataset.organization_id).where(
            Organization.name == organization
        )
    return [
        {
            "dataset": ds.name,
            "dataset_title": ds.title,
            "distribution": dist.id,
            "distribution_name": dist.name,
            "format": check.format,
            "status": check.status,
            "finding_count": check.finding_count,
            "findings": check.findings[:10],
        }
        for check, dist, ds in session.execute(query).all()
    ]


def failed_files(session: Session, organization: str | None = None) -> list[dict[str, Any]]:
    query = (
        select(FileCheck, Distribution, Dataset)
        .join(Distribution, Distribution.pk == FileCheck.distribution_pk)
        .join(Dataset, Dataset.pk == Distribution.dataset_pk)
        .where(Dataset.private.is_(False), FileCheck.status == "failed")
        .order_by(Distribution.pk).limit(50)
    )  # fmt: skip
    if organization is not None:
        query = query.join(Organization, Organization.id == Dataset.organization_id).where(
            Organization.name == organization
        )
    return [{"dataset": ds.name, "distribution": dist.id, "error": check.error}
            for check, dist, ds in session.execute(query).all()]  # fmt: skip


def catalog_quality(session: Session) -> dict[str, Any]:
    """The catalog's latest figures, trend, organizations and worst files."""
    series = trend(session, "catalog")
    orgs = latest_by_key(session, "organization")
    titles = dict(session.execute(select(Organization.name, Organization.title)).all())
    return {
        "latest": snapshot_dict(series[-1]) if series else None,
        "trend": [snapshot_dict(s) for s in series],
        "organizations": [
            {"name": name, "title": titles.get(name, name)} | snapshot_dict(snap)
            for name, snap in sorted(orgs.items(), key=lambda kv: kv[1].mqa_points)
        ],
        "worst_files": worst_findings(session),
        "failed_files": failed_files(session),
    }


def organization_quality(session: Session, name: str) -> dict[str, Any]:
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        raise NotFound(f"organization {name!r} not found")
    series = trend(session, "organization", name)
    datasets = {ds.name: ds for ds in _public_datasets(session, name)}
    latest = latest_by_key(session, "dataset")
    return {
        "organization": {"name": org.name, "title": org.title},
        "latest": snapshot_dict(series[-1]) if series else None,
        "trend": [snapshot_dict(s) for s in series],
        "datasets": [
            {"name": ds_name, "title": ds.title} | snapshot_dict(latest[ds_name])
            for ds_name, ds in sorted(datasets.items())
            if ds_name in latest
        ],
        "worst_files": worst_findings(session, name),
        "failed_files": failed_files(session, name),
    }


def dataset_quality(session: Session, name: str, *, base: str) -> dict[str, Any]:
    """One dataset scored now (from the stored URL checks), with its files' findings."""
    ds = session.scalar(
        select(Dataset).where(Dataset.name == name, Dataset.private.is_(False),
                              Dataset.state == "active"))  # fmt: skip
    if ds is None:
        raise NotFound(f"dataset {name!r} not found")
    score = score_dataset(ds, status_lookup(statuses(session)), base=base)
    checks = {
        c.distribution_pk: c
        for c in session.scalars(
            select(FileCheck).where(FileCheck.distribution_pk.in_([d.pk for d in ds.distributions]))
        )
    }
    ratings = dataset_stars(ds)
    return {
        "dataset": ds.name, "mqa": score.as_dict(),
        "distributions": [
            {"id": d.id, "name": d.name, "format": d.format, "stars": n,
             "check": None if d.pk not in checks else {
                 "status": checks[d.pk].status, "checked_at": checks[d.pk].checked_at.isoformat(),
                 "error": checks[d.pk].error, "encoding": checks[d.pk].encoding,
                 "rows": checks[d.pk].rows, "finding_count": checks[d.pk].finding_count,
                 "findings": checks[d.pk].findings}}
            for d, n in zip(ds.distributions, ratings, strict=True)
        ],
        "trend": [snapshot_dict(s) for s in trend(session, "dataset", ds.name)],
    }  # fmt: skip
