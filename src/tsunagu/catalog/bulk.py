"""Bulk, idempotent writes of catalog records (seed and harvest): ``insert()`` executemany.

Idempotency rules (the same on every run and in any source order):

* organizations and groups are upserted by ``name`` (missing ones inserted, existing kept, so an
  administrator's edits survive a reload);
* a dataset is matched by its CKAN ``id``: absent → inserted; present and the record's
  ``metadata_modified`` is newer → replaced; otherwise left alone (also keeps later edits);
* two records with the same ``name`` but different ids: the newer ``metadata_modified`` wins and
  the other is counted as *superseded*. A dataset created by a user (no source) is never replaced.
* with ``revive=True`` (harvesting) a withdrawn (``state="deleted"``) dataset of the same id is
  always replaced and so becomes active again: it reappeared at its source.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session
from tqdm import tqdm

from tsunagu.accounts import Organization
from tsunagu.kernel import naive_utcnow

from .models import (
    DataElement,
    DataService,
    Dataset,
    DatasetGroup,
    DatasetMunicipality,
    DatasetTag,
    Distribution,
    Group,
    Source,
)
from .records import DatasetRecord, GroupRecord, OrgRecord
from .search import unindex
from .services import get_datasets, reindex
from .text import sort_key
from .versions.record import Author, load_datasets, record_versions

BATCH = 1000
INDEX_BATCH = 500
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    for part in chunks(rows):
        session.execute(insert(table), list(part))


@dataclass
class WriteStats:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0
    distributions: int = 0
    organizations: int = 0


def upsert_source(session: Session, source: Source) -> None:
    """Insert or refresh one Source row (attribution text ships with the code)."""
    row = session.get(Source, source.id)
    if row is None:
        session.add(source)
    else:
        row.title, row.url = source.title, source.url
        row.attribution, row.license = source.attribution, source.license
    session.flush()


def ensure_organizations(session: Session, orgs: Iterable[OrgRecord]) -> tuple[dict[str, int], int]:
    """Organization ids by name, inserting missing ones; returns (ids, how many were new)."""
    wanted = {o.name: o for o in orgs}
    existing = _ids_by_name(session, Organization, list(wanted))
    new = [o for name, o in wanted.items() if name not in existing]
    now = naive_utcnow()
    _insert(
        session,
        Organization.__table__,
        [
            {
                "name": o.name, "title": o.title, "title_en": o.title_en,
                "corporate_number": o.corporate_number, "lg_code": o.lg_code,
                "description": o.description, "url": o.url, "image_url": o.image_url,
                "created": now,
            }
            for o in new
        ],
    )  # fmt: skip
    # Fill in a code we can now derive on an existing row, without touching anything else.
    for org in wanted.values():
        if org.name in existing and org.lg_code:
            session.execute(
                update(Organization)
                .where(Organization.name == org.name, Organization.lg_code.is_(None))
                .values(lg_code=org.lg_code)
            )
    return _ids_by_name(session, Organization, list(wanted)), len(new)


def ensure_groups(session: Session, groups: Iterable[GroupRecord]) -> dict[str, int]:
    wanted = {g.name: g for g in groups}
    existing = _ids_by_name(session, Group, list(wanted))
    _insert(
        session,
        Group.__table__,
        [
            {"name": g.name, "title": g.title, "title_en": "", "description": g.description}
            for name, g in wanted.items()
            if name not in existing
        ],
    )
    return _ids_by_name(session, Group, list(wanted))


def _ids_by_name(session: Session, model: Any, names: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in chunks(names, 500):
        found.update(
            session.execute(select(model.name, model.id).where(model.name.in_(part))).all()
        )
    return found


@dataclass(frozen=True)
class _Existing:
    pk: int
    id: str
    name: str
    modified: datetime
    source_id: str | None
    state: str = "active"


def _existing(session: Session, records: list[DatasetRecord]) -> list[_Existing]:
    cols = (
        Dataset.pk, Dataset.id, Dataset.name, Dataset.metadata_modified, Dataset.source_id,
        Dataset.state,
    )  # fmt: skip
    rows: dict[int, _Existing] = {}
    for part in chunks(records, 500):
        for column, keys in (
            (Dataset.id, [r.id for r in part]),
            (Dataset.name, [r.name for r in part]),
        ):
            for pk, did, name, modified, source_id, state in session.execute(
                select(*cols).where(column.in_(keys))
            ):
                rows[pk] = _Existing(pk, did, name, modified, source_id, state)
    return list(rows.values())


def newest_per_name(records: Iterable[DatasetRecord]) -> tuple[list[DatasetRecord], int]:
    """Keep, for each dataset name, the record modified last; returns (kept, dropped count)."""
    best: dict[str, DatasetRecord] = {}
    dropped = 0
    for rec in records:
        other = best.get(rec.name)
        if other is None:
            best[rec.name] = rec
            continue
        dropped += 1
        if (rec.metadata_modified, rec.id) > (other.metadata_modified, other.id):
            best[rec.name] = rec
    return list(best.values()), dropped


def write_datasets(
    session: Session,
    source_id: str,
    records: list[DatasetRecord],
    *,
    progress: bool = False,
    label: str = "",
    revive: bool = False,
    author: Author | None = None,
) -> WriteStats:
    """Store ``records`` (unique names and ids) for ``source_id``; see the module rules.

    Each inserted or changed dataset gets a version by ``author`` (default: the seed source).
    """
    stats = WriteStats()
    org_ids, stats.organizations = ensure_organizations(session, (r.organization for r in records))
    group_ids = ensure_groups(session, (g for r in records for g in r.groups))

    existing = _existing(session, records)
    by_id = {e.id: e for e in existing}
    by_name = {e.name: e for e in existing}
    to_insert: list[DatasetRecord] = []
    to_replace: list[tuple[DatasetRecord, int]] = []
    evict: list[int] = []
    for rec in records:
        same = by_id.get(rec.id)
        if same is not None:
            clash = by_name.get(rec.name)
            if clash is not None and clash.pk != same.pk:
                stats.superseded += 1  # renamed onto another dataset's name: keep both as they are
            elif rec.metadata_modified > same.modified or (revive and same.state != "active"):
                to_replace.append((rec, same.pk))
            else:
                stats.unchanged += 1
            continue
        clash = by_name.get(rec.name)
        if clash is not None:
            if clash.source_id is None or clash.modified >= rec.metadata_modified:
                stats.superseded += 1
                continue
            evict.append(clash.pk)  # an older seed record under the same name gives way
        to_insert.append(rec)

    if evict:
        unindex(session, evict)
        session.execute(delete(Dataset).where(Dataset.pk.in_(evict)))
    bar = tqdm(
        total=len(to_insert) + len(to_replace), desc=f"{label or source_id}: datasets",
        unit="ds", disable=not progress, leave=False,
    )  # fmt: skip
    try:
        pks: list[int] = []
        for rec, pk in to_replace:
            session.execute(
                update(Dataset).where(Dataset.pk == pk)
                .values(_dataset_row(rec, source_id, org_ids))
            )  # fmt: skip
            for child in (DatasetTag, DatasetGroup, DatasetMunicipality, Distribution, DataService):
                session.execute(delete(child).where(child.dataset_pk == pk))
            pks.append(pk)
        if to_replace:
            stats.distributions += _children(
                session, [(r, pk) for r, pk in to_replace], group_ids, org_ids
            )
            stats.updated = len(to_replace)
            bar.update(len(to_replace))
        for part in chunks(to_insert):
            rows = [_dataset_row(r, source_id, org_ids) | {"id": r.id} for r in part]
            new_pks = dict(
                session.execute(insert(Dataset).returning(Dataset.id, Dataset.pk), rows).all()
            )
            pairs = [(r, new_pks[r.id]) for r in part]
            stats.distributions += _children(session, pairs, group_ids, org_ids)
            pks += [pk for _, pk in pairs]
            stats.inserted += len(part)
            bar.update(len(part))
    finally:
        bar.close()
    index_datasets(
        session, pks, progress=progress, label=label or source_id,
        author=author or Author("seed", source_id), new=frozenset(pks[len(to_replace):]),
    )  # fmt: skip
    return stats


def _dataset_row(rec: DatasetRecord, source_id: str, org_ids: dict[str, int]) -> dict[str, Any]:
    return {
        "name": rec.name, "title": rec.title, "title_en": rec.title_en, "notes": rec.notes,
        "notes_en": rec.notes_en, "organization_id": org_ids[rec.organization.name],
        "license_id": rec.license_id, "source_id": source_id, "url": rec.url,
        "version": rec.version, "author": rec.author, "author_email": rec.author_email,
        "maintainer": rec.maintainer, "maintainer_email": rec.maintainer_email,
        "frequency": rec.frequency, "temporal_start": rec.temporal_start,
        "temporal_end": rec.temporal_end, "issued": rec.issued, "modified": rec.modified,
        "metadata_created": rec.metadata_created, "metadata_modified": rec.metadata_modified,
        "private": rec.private, "state": "active", "extras": rec.extras,
        "title_sort": sort_key(rec.title),
    }  # fmt: skip


def _children(
    session: Session,
    pairs: list[tuple[DatasetRecord, int]],
    group_ids: dict[str, int],
    org_ids: dict[str, int],
) -> int:
    """Insert tags, groups, municipalities, services, distributions and data elements.

    Returns the number of distributions written.
    """
    _insert(
        session,
        DataService.__table__,
        [
            {
                "id": s.id, "organization_id": org_ids[r.organization.name], "dataset_pk": pk,
                "title": s.title, "description": s.description, "endpoint_url": s.endpoint_url,
                "endpoint_description": s.endpoint_description, "openapi": None,
            }
            for r, pk in pairs
            for s in r.services
        ],
    )  # fmt: skip
    _insert(session, DatasetTag.__table__,
            [{"dataset_pk": pk, "name": t} for r, pk in pairs for t in r.tags])  # fmt: skip
    _insert(
        session,
        DatasetGroup.__table__,
        [
            {"dataset_pk": pk, "group_id": gid}
            for r, pk in pairs
            for gid in dict.fromkeys(group_ids[g.name] for g in r.groups)
        ],
    )
    _insert(
        session,
        DatasetMunicipality.__table__,
        [
            {"dataset_pk": pk, "lg_code": c}
            for r, pk in pairs
            for c in dict.fromkeys(r.municipalities)
        ],
    )
    dist_rows = [
        {
            "id": res.id, "dataset_pk": pk, "position": res.position, "name": res.name,
            "description": res.description, "url": res.url, "download_url": res.download_url,
            "format": res.format, "media_type": res.media_type, "byte_size": res.byte_size,
            "checksum": res.checksum, "checksum_algorithm": res.checksum_algorithm,
            "language": res.language, "created": res.created, "modified": res.modified,
            "extras": res.extras,
        }
        for r, pk in pairs
        for res in r.resources
    ]  # fmt: skip
    with_elements = {res.id: res.elements for r, _ in pairs for res in r.resources if res.elements}
    if not with_elements:
        _insert(session, Distribution.__table__, dist_rows)
        return len(dist_rows)
    dist_pks: dict[str, int] = {}
    for part in chunks(dist_rows):
        dist_pks.update(
            session.execute(insert(Distribution).returning(Distribution.id, Distribution.pk),
                            list(part)).all()
        )  # fmt: skip
    _insert(
        session,
        DataElement.__table__,
        [
            {
                "distribution_pk": dist_pks[rid], "position": i, "name": e.name,
                "label_ja": e.label_ja, "definition": e.definition, "data_type": e.data_type,
                "unit": e.unit, "pattern": e.pattern, "required": e.required,
                "code_list_name": e.code_list_name,
            }
            for rid, elements in with_elements.items()
            for i, e in enumerate(elements)
        ],
    )  # fmt: skip
    return len(dist_rows)


def index_datasets(
    session: Session,
    pks: list[int],
    *,
    progress: bool = False,
    label: str = "",
    author: Author | None = None,
    new: frozenset[int] = frozenset(),
) -> None:
    """(Re)index datasets through the catalog's own indexer, in batches.

    With ``author``, also record a version of each (``new``: the pks just inserted), from the
    same loaded rows: one executemany of version rows per batch.
    """
    bar = tqdm(total=len(pks), desc=f"{label}: search index", unit="ds",
               disable=not progress or not pks, leave=False)  # fmt: skip
    try:
        for part in chunks(pks, INDEX_BATCH):
            # The identity map holds these weakly, so each batch is freed once indexed.
            if author is None:
                reindex(session, get_datasets(session, list(part)))
            else:
                datasets = load_datasets(session, list(part))
                reindex(session, datasets)
                record_versions(session, datasets, author, new=new)
            bar.update(len(part))
    finally:
        bar.close()


def stable_uuid(*parts: str) -> str:
    """A deterministic UUID for records that have no id of their own (reloads find them again)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "tsunagu-seed:" + "/".join(parts)))
