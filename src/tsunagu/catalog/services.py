"""Use cases of the catalog: datasets, their distributions and data dictionary, and search."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from tsunagu.accounts import Caller, Organization, get_organization
from tsunagu.kernel import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationProblem,
    naive_utcnow,
    validate_corporate_number,
)

from . import search as search_index
from .models import (
    DataElement,
    Dataset,
    DatasetMunicipality,
    DatasetTag,
    Distribution,
    Group,
    License,
)
from .schemas import DatasetIn, ResourceIn
from .text import sort_key
from .versions.record import record_baseline, record_version, token_author


def validation_problem(exc: ValidationError) -> ValidationProblem:
    """Turn a pydantic error into one readable problem listing every field at fault."""
    errors = [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return ValidationProblem(summary, errors=errors)


def parse_dataset(data: dict[str, Any]) -> DatasetIn:
    if not isinstance(data, dict):
        raise ValidationProblem("a dataset must be a JSON object")
    try:
        parsed: DatasetIn = DatasetIn.from_ckan(data)
    except ValidationError as exc:
        raise validation_problem(exc) from exc
    return parsed


def _dataset_query() -> Select[Dataset]:
    return select(Dataset).options(
        selectinload(Dataset.distributions).selectinload(Distribution.elements),
        selectinload(Dataset.tags),
        selectinload(Dataset.groups),
        selectinload(Dataset.municipalities),
        selectinload(Dataset.services),
    )


def get_dataset(session: Session, name_or_id: str, caller: Caller | None = None) -> Dataset:
    """A visible dataset by name or id; private ones only for their organization."""
    ds = session.scalar(_dataset_query().where(Dataset.name == name_or_id))
    if ds is None:
        ds = session.scalar(_dataset_query().where(Dataset.id == name_or_id))
    if ds is None or ds.state == "deleted":
        raise NotFound(f"dataset {name_or_id!r} not found")
    if ds.private and (caller is None or caller.organization_id != ds.organization_id):
        raise NotFound(f"dataset {name_or_id!r} not found")
    return ds


def get_datasets(session: Session, pks: list[int]) -> list[Dataset]:
    """Datasets by primary key, in the order given (search hits)."""
    if not pks:
        return []
    rows = {d.pk: d for d in session.scalars(_dataset_query().where(Dataset.pk.in_(pks)))}
    return [rows[pk] for pk in pks if pk in rows]


def _license(session: Session, license_id: str | None) -> str | None:
    if not license_id:
        return None
    if session.get(License, license_id) is None:
        raise ValidationProblem(f"unknown license_id {license_id!r}", field="license_id")
    return license_id


def _groups(session: Session, names: Iterable[str]) -> list[Group]:
    wanted = list(dict.fromkeys(names))
    found = {g.name: g for g in session.scalars(select(Group).where(Group.name.in_(wanted)))}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ValidationProblem(f"unknown group(s): {', '.join(missing)}", field="groups")
    return [found[n] for n in wanted]


def resolve_organization(session: Session, ref: str) -> Organization:
    """An organization by name, id or 13-digit corporate number (法人番号, check digit verified)."""
    if len(ref) == 13 and ref.isascii() and ref.isdigit():
        try:
            validate_corporate_number(ref)
        except ValidationProblem as exc:
            raise ValidationProblem(exc.detail, field="owner_org") from exc
        org = session.scalar(select(Organization).where(Organization.corporate_number == ref))
        if org is None:
            raise NotFound(f"no organization has corporate number {ref}")
        return org
    return get_organization(session, ref)


def _check_writer(session: Session, caller: Caller | None, owner_org: str) -> int:
    if caller is None:
        raise Forbidden("writing to the catalog needs an API token")
    try:
        org = resolve_organization(session, owner_org)
    except NotFound as exc:
        # An unknown owner is a fault of the submitted record, not a missing page.
        raise ValidationProblem(exc.detail, field="owner_org") from exc
    if org.id != caller.organization_id:
        raise Forbidden(f"the token belongs to {caller.organization_name!r}, not to {org.name!r}")
    return org.id


def authorize_edit(session: Session, caller: Caller | None, ds: Dataset) -> None:
    """Raise Forbidden unless ``caller`` may change ``ds`` (a token of its organization)."""
    _check_writer(session, caller, ds.organization.name)


def _apply(session: Session, ds: Dataset, data: DatasetIn, org_id: int) -> None:
    if data.temporal_start and data.temporal_end and data.temporal_start > data.temporal_end:
        raise ValidationProblem("temporal_start is after temporal_end", field="temporal_start")
    ds.name = data.name
    ds.title = data.title
    ds.title_en = data.title_en
    ds.title_sort = sort_key(data.title)
    ds.notes = data.notes or ""
    ds.notes_en = data.notes_en
    ds.organization_id = org_id
    ds.license_id = _license(session, data.license_id)
    ds.url = data.url or ""
    ds.version = data.version or ""
    ds.author = data.author or ""
    ds.author_email = data.author_email or ""
    ds.maintainer = data.maintainer or ""
    ds.maintainer_email = data.maintainer_email or ""
    ds.frequency = data.frequency
    ds.temporal_start = data.temporal_start
    ds.temporal_end = data.temporal_end
    ds.issued = _naive_utc(data.issued, "issued")
    ds.modified = _naive_utc(data.modified, "modified")
    ds.private = data.private
    ds.extras = {e.key: e.value for e in data.extras}
    ds.tags = [DatasetTag(name=n) for n in dict.fromkeys(t.name for t in data.tags)]
    ds.groups = _groups(session, (g.name for g in data.groups))
    ds.municipalities = [DatasetMunicipality(lg_code=c) for c in dict.fromkeys(data.municipalities)]
    existing = {r.id: r for r in ds.distributions}
    _check_resource_ids(session, existing, data.resources)
    ds.distributions = [
        _resource(existing.get(r.id or ""), r, position)
        for position, r in enumerate(data.resources)
    ]
    ds.metadata_modified = naive_utcnow()


def _naive_utc(value: datetime | None, field: str) -> datetime | None:
    """Stored datetimes are naive UTC; convert aware ones instead of dropping their offset."""
    if value is None or value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable moment
        raise ValidationProblem(
            f"{field} is out of range: in UTC it must fall in the years 1 to 9999", field=field
        ) from None


def _check_resource_ids(
    session: Session, existing: dict[str, Distribution], resources: list[ResourceIn]
) -> None:
    """Resource ids are unique: a new one must not be taken by another dataset or repeated."""
    given = [r.id for r in resources if r.id]
    repeated = sorted({i for i in given if given.count(i) > 1})
    if repeated:
        raise ValidationProblem(
            f"resource id(s) repeated: {', '.join(repeated)}", field="resources"
        )
    new = [i for i in given if i not in existing]
    if new:
        taken = session.scalars(select(Distribution.id).where(Distribution.id.in_(new))).all()
        if taken:
            raise Conflict(
                f"resource id(s) already used by another dataset: {', '.join(sorted(taken))}",
                field="resources",
            )


def _resource(row: Distribution | None, data: ResourceIn, position: int) -> Distribution:
    if row is None:
        row = Distribution(id=data.id or str(uuid.uuid4()))
        row.created = _naive_utc(data.created, "resources.created") or naive_utcnow()
    row.position = position
    row.name = data.name
    row.description = data.description
    row.url = data.url
    row.download_url = data.download_url
    row.format = data.format
    row.media_type = data.mimetype or ""
    row.byte_size = data.size
    row.checksum = data.hash
    row.checksum_algorithm = data.hash_algorithm
    row.language = data.language
    row.modified = _naive_utc(data.last_modified, "resources.last_modified")
    row.elements = [
        DataElement(
            position=i,
            name=e.name,
            label_ja=e.label_ja,
            definition=e.definition,
            data_type=e.data_type,
            unit=e.unit,
            pattern=e.pattern,
            required=e.required,
            code_list_name=e.code_list,
        )
        for i, e in enumerate(data.data_dictionary)
    ]
    return row


def create_dataset(
    session: Session, caller: Caller | None, data: DatasetIn, *, dataset_id: str | None = None
) -> Dataset:
    org_id = _check_writer(session, caller, data.owner_org)
    if session.scalar(select(Dataset.pk).where(Dataset.name == data.name)) is not None:
        raise Conflict(f"a dataset named {data.name!r} already exists", field="name")
    ds = Dataset(id=dataset_id or str(uuid.uuid4()), metadata_created=naive_utcnow())
    with session.no_autoflush:
        _apply(session, ds, data, org_id)
    session.add(ds)
    session.flush()
    reindex(session, [ds])
    record_version(session, ds, token_author(caller), new=True)
    return ds


def update_dataset(
    session: Session, caller: Caller | None, name_or_id: str, data: DatasetIn
) -> Dataset:
    """Replace a dataset's metadata (CKAN package_update semantics)."""
    ds = get_dataset(session, name_or_id, caller)
    _check_writer(session, caller, ds.organization.name)
    org_id = _check_writer(session, caller, data.owner_org)
    if data.name != ds.name and session.scalar(select(Dataset.pk).where(Dataset.name == data.name)):
        raise Conflict(f"a dataset named {data.name!r} already exists", field="name")
    record_baseline(session, ds)
    with session.no_autoflush:
        _apply(session, ds, data, org_id)
    session.flush()
    reindex(session, [ds])
    record_version(session, ds, token_author(caller))
    return ds


def delete_dataset(session: Session, caller: Caller | None, name_or_id: str) -> Dataset:
    """Soft-delete (CKAN state=deleted): gone from search and reads, kept for history."""
    ds = get_dataset(session, name_or_id, caller)
    _check_writer(session, caller, ds.organization.name)
    record_baseline(session, ds)
    ds.state = "deleted"
    ds.metadata_modified = naive_utcnow()
    session.flush()
    search_index.unindex(session, [ds.pk])
    record_version(session, ds, token_author(caller))
    return ds


def index_document(ds: Dataset) -> search_index.IndexDocument:
    org = ds.organization
    facets: list[tuple[str, str]] = [("organization", org.name)]
    if ds.license_id:
        facets.append(("license_id", ds.license_id))
    facets += [("tags", t.name) for t in ds.tags]
    facets += [("groups", g.name) for g in ds.groups]
    facets += [("municipality", m.lg_code) for m in ds.municipalities]
    facets += [("res_format", r.format.upper()) for r in ds.distributions if r.format]
    keywords = " ".join(
        [t.name for t in ds.tags] + [org.title, org.title_en] + [g.title for g in ds.groups]
    )
    body = " ".join(
        [ds.notes, ds.title_en, ds.notes_en]
        + [f"{r.name} {r.description}" for r in ds.distributions]
    )
    return search_index.IndexDocument(
        pk=ds.pk, title=ds.title, keywords=keywords, body=body, facets=tuple(facets)
    )


def reindex(session: Session, datasets: list[Dataset]) -> None:
    search_index.index_documents(
        session, [index_document(d) for d in datasets if d.state == "active"]
    )


def rebuild_search_index(session: Session, batch: int = 500) -> int:
    """Reindex every active dataset (after a bulk load or a tokenizer change)."""
    total = 0
    last = 0
    while True:
        rows = session.scalars(
            _dataset_query()
            .where(Dataset.pk > last, Dataset.state == "active")
            .order_by(Dataset.pk)
            .limit(batch)
        ).all()
        if not rows:
            return total
        reindex(session, list(rows))
        total += len(rows)
        last = rows[-1].pk
