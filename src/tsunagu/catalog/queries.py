"""Read-only lookups of the catalog that the APIs and pages list: organizations, groups, tags,
licences, resources and code lists. Counts only include active public datasets.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, selectinload

from tsunagu.accounts import Caller, Organization, as_row_id
from tsunagu.kernel import NotFound, ValidationProblem

from .models import CodeList, Dataset, DatasetGroup, DatasetTag, Distribution, Group, License
from .services import get_dataset

ORG_SORTS = {
    "name": (Organization.name.asc(),),
    "name asc": (Organization.name.asc(),),
    "name desc": (Organization.name.desc(),),
    "title": (Organization.title.asc(), Organization.name.asc()),
    "title asc": (Organization.title.asc(), Organization.name.asc()),
    "title desc": (Organization.title.desc(), Organization.name.asc()),
}
GROUP_SORTS = {
    "name": (Group.name.asc(),),
    "name asc": (Group.name.asc(),),
    "name desc": (Group.name.desc(),),
    "title": (Group.title.asc(), Group.name.asc()),
    "title asc": (Group.title.asc(), Group.name.asc()),
    "title desc": (Group.title.desc(), Group.name.asc()),
}
COUNT_SORTS = ("package_count", "package_count desc", "package_count asc")


def _public() -> tuple[ColumnElement[bool], ...]:
    return (Dataset.state == "active", Dataset.private.is_(False))


def list_dataset_names(session: Session, limit: int | None = None, offset: int = 0) -> list[str]:
    """Names of active public datasets, alphabetically (CKAN package_list)."""
    stmt = select(Dataset.name).where(*_public()).order_by(Dataset.name).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def organization_counts(session: Session) -> dict[int, int]:
    """Active public datasets per organization id."""
    rows = session.execute(
        select(Dataset.organization_id, func.count())
        .where(*_public())
        .group_by(Dataset.organization_id)
    )
    return {org_id: int(n) for org_id, n in rows}


def _check_sort(sort: str, allowed: Mapping[str, object]) -> str:
    key = sort.strip().lower() or "name asc"
    if key not in allowed and key not in COUNT_SORTS:
        choices = ", ".join([*allowed, *COUNT_SORTS])
        raise ValidationProblem(f"unknown sort {sort!r}; use one of: {choices}", field="sort")
    return key


class _Named(Protocol):
    id: int
    name: str


N = TypeVar("N", bound=_Named)


def _counted_page(
    items: list[N], counts: dict[int, int], key: str, limit: int | None, offset: int
) -> list[tuple[N, int]]:
    """Pair items with their dataset counts; sort by count when asked; take one page."""
    pairs = [(item, counts.get(item.id, 0)) for item in items]
    if key in COUNT_SORTS:
        sign = 1 if key.endswith("asc") else -1
        pairs.sort(key=lambda p: (sign * p[1], p[0].name))
    end = None if limit is None else offset + limit
    return pairs[offset:end]


def list_organizations(
    session: Session, *, sort: str = "name asc", limit: int | None = None, offset: int = 0
) -> list[tuple[Organization, int]]:
    """Organizations with their public dataset counts, sorted and paged."""
    key = _check_sort(sort, ORG_SORTS)
    counts = organization_counts(session)
    order = ORG_SORTS.get(key, ORG_SORTS["name"])
    orgs = list(session.scalars(select(Organization).order_by(*order)))
    return _counted_page(orgs, counts, key, limit, offset)


def group_counts(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(DatasetGroup.group_id, func.count())
        .join(Dataset, Dataset.pk == DatasetGroup.dataset_pk)
        .where(*_public())
        .group_by(DatasetGroup.group_id)
    )
    return {gid: int(n) for gid, n in rows}


def list_groups(
    session: Session, *, sort: str = "name asc", limit: int | None = None, offset: int = 0
) -> list[tuple[Group, int]]:
    """Groups (themes) with their public dataset counts."""
    key = _check_sort(sort, GROUP_SORTS)
    counts = group_counts(session)
    order = GROUP_SORTS.get(key, GROUP_SORTS["name"])
    groups = list(session.scalars(select(Group).order_by(*order)))
    return _counted_page(groups, counts, key, limit, offset)


def get_group(session: Session, name_or_id: str) -> tuple[Group, int]:
    group = session.scalar(select(Group).where(Group.name == name_or_id))
    if group is None and (row_id := as_row_id(name_or_id)) is not None:
        group = session.get(Group, row_id)
    if group is None:
        raise NotFound(f"group {name_or_id!r} not found")
    return group, group_counts(session).get(group.id, 0)


def list_tags(session: Session, query: str = "", limit: int | None = None) -> list[str]:
    """Distinct tags of active public datasets, optionally containing ``query``."""
    stmt = (
        select(DatasetTag.name)
        .join(Dataset, Dataset.pk == DatasetTag.dataset_pk)
        .where(*_public())
        .distinct()
        .order_by(DatasetTag.name)
    )
    if query:
        stmt = stmt.where(DatasetTag.name.contains(query, autoescape=True))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def list_licenses(session: Session) -> list[License]:
    return list(session.scalars(select(License).order_by(License.id)))


def get_resource(session: Session, resource_id: str, caller: Caller | None) -> Distribution:
    """A resource whose dataset the caller may see."""
    row = session.scalar(select(Distribution).where(Distribution.id == resource_id))
    if row is None:
        raise NotFound(f"resource {resource_id!r} not found")
    try:
        get_dataset(session, row.dataset.id, caller)
    except NotFound:
        raise NotFound(f"resource {resource_id!r} not found") from None
    return row


def facet_titles(session: Session, field: str, values: list[str]) -> dict[str, str]:
    """Display names of facet values (organization, group and licence titles)."""
    if not values:
        return {}
    if field == "organization":
        rows = session.execute(
            select(Organization.name, Organization.title).where(Organization.name.in_(values))
        )
    elif field == "groups":
        rows = session.execute(select(Group.name, Group.title).where(Group.name.in_(values)))
    elif field == "license_id":
        rows = session.execute(select(License.id, License.title).where(License.id.in_(values)))
    else:
        return {}
    return {str(name): str(title) for name, title in rows.all()}


def list_code_lists(session: Session) -> list[CodeList]:
    """The latest version of every code list, by name."""
    rows = session.scalars(select(CodeList).order_by(CodeList.name)).all()
    latest: dict[str, CodeList] = {}
    for row in rows:
        if row.name not in latest or _version_key(row) > _version_key(latest[row.name]):
            latest[row.name] = row
    return list(latest.values())


def code_list_versions(session: Session, name: str) -> list[str]:
    rows = session.scalars(select(CodeList).where(CodeList.name == name)).all()
    return [r.version for r in sorted(rows, key=_version_key, reverse=True)]


def get_code_list(session: Session, name: str, version: str | None = None) -> CodeList:
    """A code list with its entries: the given version, or the latest one."""
    stmt = select(CodeList).options(selectinload(CodeList.entries)).where(CodeList.name == name)
    if version:
        stmt = stmt.where(CodeList.version == version)
    rows = session.scalars(stmt).all()
    if not rows:
        what = f"version {version!r} of code list {name!r}" if version else f"code list {name!r}"
        raise NotFound(f"{what} not found")
    return max(rows, key=_version_key)


def _version_key(row: CodeList) -> tuple[date, str]:
    # Latest = most recently issued; versions without a date rank by their label.
    return (row.issued or date.min, row.version)
