"""Read-only look-ups the pages need beyond the catalog services: labels, lists and counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tsunagu.accounts import Organization
from tsunagu.catalog import CodeList, CodeListEntry, Group, License, Source


@dataclass(frozen=True)
class Label:
    """A display name in Japanese and, when known, English."""

    ja: str
    en: str = ""


def organization_labels(session: Session, names: Iterable[str]) -> dict[str, Label]:
    wanted = list(set(names))
    if not wanted:
        return {}
    rows = session.execute(
        select(Organization.name, Organization.title, Organization.title_en).where(
            Organization.name.in_(wanted)
        )
    )
    return {name: Label(title, title_en) for name, title, title_en in rows}


def group_labels(session: Session, names: Iterable[str]) -> dict[str, Label]:
    wanted = list(set(names))
    if not wanted:
        return {}
    rows = session.execute(
        select(Group.name, Group.title, Group.title_en).where(Group.name.in_(wanted))
    )
    return {name: Label(title, title_en) for name, title, title_en in rows}


def license_labels(session: Session, ids: Iterable[str]) -> dict[str, Label]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(License.id, License.title, License.title_en).where(License.id.in_(wanted))
    )
    return {lid: Label(title, title_en) for lid, title, title_en in rows}


def municipality_labels(session: Session, codes: Iterable[str]) -> dict[str, Label]:
    """Names of 全国地方公共団体コード from any loaded code list, else from organizations.

    Entries still in force win over abolished ones, so a renamed town shows its current name.
    """
    wanted = [c for c in set(codes) if c]
    if not wanted:
        return {}
    labels: dict[str, Label] = {}
    rows = session.execute(
        select(CodeListEntry.code, CodeListEntry.label, CodeListEntry.label_en)
        .where(CodeListEntry.code.in_(wanted))
        .order_by(CodeListEntry.valid_to.is_(None), CodeListEntry.valid_from, CodeListEntry.id)
    )
    for code, label, label_en in rows:  # later rows (in force, newer) overwrite earlier ones
        labels[str(code)] = Label(label, label_en)
    missing = [c for c in wanted if c not in labels]
    if missing:
        for lg_code, title, title_en in session.execute(
            select(Organization.lg_code, Organization.title, Organization.title_en).where(
                Organization.lg_code.in_(missing)
            )
        ):
            if lg_code:
                labels[lg_code] = Label(title, title_en)
    return labels


def organizations(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(Organization.name)))


def group_list(session: Session) -> list[Group]:
    return list(session.scalars(select(Group).order_by(Group.name)))


def sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.title)))


@dataclass(frozen=True)
class CodeListSummary:
    name: str
    title: str
    title_en: str
    version: str
    publisher: str
    entries: int


def code_list_summaries(session: Session) -> list[CodeListSummary]:
    """Each code list once, in its newest version (the highest id loaded last)."""
    newest = select(func.max(CodeList.id)).group_by(CodeList.name).scalar_subquery()
    counts = (
        select(CodeListEntry.code_list_id, func.count().label("n"))
        .group_by(CodeListEntry.code_list_id)
        .subquery()
    )
    rows = session.execute(
        select(CodeList, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.code_list_id == CodeList.id)
        .where(CodeList.id.in_(newest))
        .order_by(CodeList.name)
    )
    return [
        CodeListSummary(cl.name, cl.title, cl.title_en, cl.version, cl.publisher, int(n))
        for cl, n in rows
    ]


def code_list_versions(session: Session, name: str) -> list[CodeList]:
    """Every version of a code list, newest first."""
    return list(
        session.scalars(select(CodeList).where(CodeList.name == name).order_by(CodeList.id.desc()))
    )


def code_list_entries(
    session: Session, code_list_id: int, text: str, offset: int, limit: int
) -> tuple[int, list[CodeListEntry]]:
    """One page of entries, optionally those whose code starts with or label contains ``text``."""
    where = [CodeListEntry.code_list_id == code_list_id]
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(
            or_(
                CodeListEntry.code.like(escaped + "%", escape="\\"),
                CodeListEntry.label.like("%" + escaped + "%", escape="\\"),
                CodeListEntry.label_kana.like("%" + escaped + "%", escape="\\"),
                CodeListEntry.label_en.ilike("%" + escaped + "%", escape="\\"),
            )
        )
    total = int(session.scalar(select(func.count()).select_from(CodeListEntry).where(*where)) or 0)
    rows = session.scalars(
        select(CodeListEntry)
        .where(*where)
        .order_by(CodeListEntry.position, CodeListEntry.id)
        .offset(offset)
        .limit(limit)
    )
    return total, list(rows)
