"""Code lists: ABR prefecture and municipality codes, and the GIF core data model code lists."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tsunagu.catalog import CodeList, CodeListEntry

from .sources import ABR_CITY, ABR_PREF, GIF_CODES
from .writer import chunks

PREFECTURES = "jp-prefecture"
MUNICIPALITIES = "jp-municipality"
GIF_VERSION = "2.2"  # JDA-DM/GIF release the workbook was taken from


@dataclass
class Entry:
    code: str
    label: str
    label_kana: str = ""
    label_en: str = ""
    parent_code: str = ""
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass
class CodeListData:
    name: str
    version: str
    title: str
    title_en: str = ""
    description: str = ""
    publisher: str = ""
    entries: list[Entry] = field(default_factory=list)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with zipfile.ZipFile(path) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".csv"))
        text = archive.read(member).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value and value.strip() else None
    except ValueError:
        return None


def _version(entries: list[Entry]) -> str:
    # ABR files carry no release date; the newest effective/abolition date identifies the
    # content, so a new ABR release that changes a code makes a new code-list version.
    dates = [d for e in entries for d in (e.valid_from, e.valid_to) if d]
    return "abr-" + (max(dates).isoformat() if dates else "undated")


def abr_prefectures(path: Path = ABR_PREF) -> CodeListData:
    entries = [
        Entry(
            code=row["lg_code"], label=row["pref"], label_kana=row["pref_kana"],
            label_en=row["pref_roma"], valid_from=_date(row["efct_date"]),
            valid_to=_date(row["ablt_date"]),
        )
        for row in _csv_rows(path)
    ]  # fmt: skip
    return CodeListData(
        name=PREFECTURES, version=_version(entries), title="都道府県コード",
        title_en="Prefecture codes (全国地方公共団体コード)",
        description="都道府県の全国地方公共団体コード（6桁、検査数字付き）。"
        "アドレス・ベース・レジストリ 都道府県マスター（mt_pref_all）より。",
        publisher="デジタル庁", entries=entries,
    )  # fmt: skip


def abr_municipalities(path: Path = ABR_CITY, pref_path: Path = ABR_PREF) -> CodeListData:
    pref_codes = {row["lg_code"][:2]: row["lg_code"] for row in _csv_rows(pref_path)}
    entries = []
    for row in _csv_rows(path):
        ward = row.get("ward") or ""
        entries.append(
            Entry(
                code=row["lg_code"],
                label=row["city"] + ward,
                label_kana=row["city_kana"] + (row.get("ward_kana") or ""),
                label_en=" ".join(p for p in (row["city_roma"], row.get("ward_roma")) if p),
                parent_code=pref_codes.get(row["lg_code"][:2], ""),
                valid_from=_date(row["efct_date"]),
                valid_to=_date(row["ablt_date"]),
            )
        )
    return CodeListData(
        name=MUNICIPALITIES, version=_version(entries), title="市区町村コード",
        title_en="Municipality codes (全国地方公共団体コード)",
        description="市区町村（政令指定都市の区を含む）の全国地方公共団体コード。親コードは都道府県。"
        "アドレス・ベース・レジストリ 市区町村マスター（mt_city_all）より。",
        publisher="デジタル庁", entries=entries,
    )  # fmt: skip


@cache
def _municipality_names() -> tuple[tuple[str, str], ...]:
    return tuple((e.code, e.label) for e in abr_municipalities().entries)


def read_municipalities() -> tuple[tuple[str, str], ...]:
    """(lg_code, name) of every municipality in the shipped ABR list (cached)."""
    return _municipality_names()


def gif_code_lists(path: Path = GIF_CODES) -> list[CodeListData]:
    """The code lists of the GIF workbook: a header row per list, then Code/Value rows."""
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        lists: list[CodeListData] = []
        started = False
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            cells = [*row, None, None, None, None, None, None, None][:7]
            number, prefix, title, title_en, code, value, note = cells
            if number == "コード一覧No.":
                started = True
                continue
            if not started:
                continue
            if number is not None and title and title_en:
                lists.append(
                    CodeListData(
                        name=f"{prefix or 'pcd'}:{str(title_en).strip()}",
                        version=GIF_VERSION, title=str(title).strip(),
                        title_en=str(title_en).strip(),
                        description=str(note or "").strip(), publisher="デジタル庁",
                    )
                )  # fmt: skip
            elif lists and code is not None and value is not None:
                lists[-1].entries.append(Entry(code=str(code).strip(), label=str(value).strip()))
        return [c for c in lists if c.entries]
    finally:
        workbook.close()


def all_code_lists() -> Iterator[CodeListData]:
    yield abr_prefectures()
    yield abr_municipalities()
    yield from gif_code_lists()


def write_code_list(session: Session, data: CodeListData, source_id: str) -> tuple[bool, int]:
    """Store one version of a code list unless (name, version) exists; returns (new, entries)."""
    existing = session.scalar(
        select(CodeList.id).where(CodeList.name == data.name, CodeList.version == data.version)
    )
    if existing is not None:
        return False, 0
    list_id = session.execute(
        insert(CodeList).returning(CodeList.id),
        {
            "name": data.name, "version": data.version, "title": data.title[:300],
            "title_en": data.title_en[:300], "description": data.description,
            "publisher": data.publisher, "source_id": source_id, "issued": None,
        },
    ).scalar_one()  # fmt: skip
    rows = [
        {
            "code_list_id": list_id, "position": i, "code": e.code, "label": e.label[:500],
            "label_kana": e.label_kana[:500], "label_en": e.label_en[:500],
            "parent_code": e.parent_code, "valid_from": e.valid_from, "valid_to": e.valid_to,
        }
        for i, e in enumerate(data.entries)
    ]  # fmt: skip
    for part in chunks(rows):
        session.execute(insert(CodeListEntry), list(part))
    return True, len(rows)
