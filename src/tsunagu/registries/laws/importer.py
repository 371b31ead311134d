"""Importing laws: e-Gov 法令API v2 JSON (law lists and law_data) and 法令標準XML files.

A ``GET /api/2/laws`` answer adds laws and revisions (metadata only); a ``GET /api/2/law_data``
answer or an XML file adds a revision's body and its units. Importing the same content again
changes nothing; a revision's body is replaced only when its content differs. Events:
``law.revision.added`` when a revision is first stored, ``law.revision.body_changed`` when its
text is (re)placed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePath
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from tsunagu.db import record_events
from tsunagu.kernel import Event, Problem

from . import document
from .models import Law, LawArticle, LawRevision

LAW_ID_RE = re.compile(r"\d{3}[A-Z]{2}\d{10}|\d{3}[A-Z]\d{11}")
REVISION_RE = re.compile(r"(\d{3}[A-Z0-9]{12})_(\d{8})_(\w{15})")
ERAS = {"Meiji": 1, "Taisho": 2, "Showa": 3, "Heisei": 4, "Reiwa": 5}
TYPE_CODES = {"Act": "AC", "CabinetOrder": "CO", "Constitution": "CONSTITUTION"}


class LawImportProblem(Problem):
    """A file that is not an e-Gov law answer or law XML."""

    slug = "law-import-failed"
    title = "The law file cannot be imported"
    status = 422


@dataclass
class LawImportReport:
    """What one import did."""

    file_name: str
    laws: int = 0
    revisions_new: int = 0
    bodies_written: int = 0
    units: int = 0
    unchanged: int = 0
    events: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.file_name}: {self.laws} laws, {self.revisions_new} new revisions, "
                f"{self.bodies_written} bodies ({self.units} units), "
                f"{self.unchanged} unchanged")  # fmt: skip


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _upsert_law(session: Session, info: dict[str, Any]) -> Law:
    law = session.get(Law, info["law_id"]) or Law(law_id=info["law_id"])
    law.law_type = info.get("law_type") or law.law_type or ""
    law.law_num = info.get("law_num") or law.law_num or ""
    law.promulgation_date = _date(info.get("promulgation_date")) or law.promulgation_date
    session.add(law)
    return law


def _upsert_revision(
    session: Session, law_id: str, info: dict[str, Any], report: LawImportReport
) -> LawRevision:
    revision_id = info["law_revision_id"]
    rev = session.get(LawRevision, revision_id)
    if rev is None:
        rev = LawRevision(revision_id=revision_id, law_id=law_id, has_body=False)
        session.add(rev)
        report.revisions_new += 1
        report.events += record_events(session, [Event(
            "law.revision.added", revision_id,
            {"law_id": law_id, "title": info.get("law_title"),
             "enforcement_date": info.get("amendment_enforcement_date")},
        )])  # fmt: skip
    match = REVISION_RE.fullmatch(revision_id)
    rev.title = info.get("law_title") or rev.title or ""
    rev.title_kana = info.get("law_title_kana") or rev.title_kana or ""
    rev.abbrev = info.get("abbrev") or rev.abbrev or ""
    rev.category = info.get("category") or rev.category or ""
    rev.enforcement_date = (
        _date(info.get("amendment_enforcement_date"))
        or (_date(f"{match.group(2)[:4]}-{match.group(2)[4:6]}-{match.group(2)[6:]}")
            if match else None)
        or rev.enforcement_date
    )  # fmt: skip
    rev.amendment_law_id = info.get("amendment_law_id") or ""
    rev.amendment_law_title = info.get("amendment_law_title") or ""
    rev.repeal_status = info.get("repeal_status") or ""
    rev.repeal_date = _date(info.get("repeal_date"))
    rev.status = info.get("current_revision_status") or ""
    rev.updated = info.get("updated") or rev.updated or ""
    rev.title_key = document.fold(" ".join([rev.title, rev.abbrev, rev.title_kana]))
    return rev


def _write_body(
    session: Session, rev: LawRevision, body: document.Node, fmt: str, report: LawImportReport
) -> None:
    digest = document.content_hash(body)
    if rev.has_body and rev.content_hash == digest:
        report.unchanged += 1
        return
    session.flush()
    session.execute(delete(LawArticle).where(LawArticle.revision_id == rev.revision_id))
    rows = [
        {"revision_id": rev.revision_id, "path": u.path, "kind": u.kind, "position": i,
         "caption": u.caption[:500], "title": u.title[:200], "text": u.text,
         "text_key": document.fold(u.text)}
        for i, u in enumerate(document.units(body))
    ]  # fmt: skip
    if rows:
        session.execute(insert(LawArticle), rows)
    rev.body, rev.has_body, rev.content_hash, rev.source_format = body, True, digest, fmt
    report.bodies_written += 1
    report.units += len(rows)
    report.events += record_events(session, [Event(
        "law.revision.body_changed", rev.revision_id, {"law_id": rev.law_id, "units": len(rows)}
    )])  # fmt: skip


def import_api_json(session: Session, data: bytes, file_name: str) -> LawImportReport:
    """A 法令API v2 answer: ``/laws`` (list) or ``/law_data/{id}`` (one law with its body)."""
    report = LawImportReport(file_name)
    try:
        answer = json.loads(data)
    except ValueError as exc:
        raise LawImportProblem(f"{file_name}: not JSON: {exc}") from None
    if not isinstance(answer, dict):
        raise LawImportProblem(f"{file_name}: not an e-Gov 法令API v2 answer")
    entries = answer.get("laws") if "laws" in answer else [answer]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise LawImportProblem(f"{file_name}: 'laws' is not a list of objects")
    for position, entry in enumerate(entries, start=1):
        info, revision = entry.get("law_info"), entry.get("revision_info")
        if not isinstance(info, dict) or not isinstance(revision, dict) or \
                not LAW_ID_RE.fullmatch(str(info.get("law_id", ""))) or \
                not revision.get("law_revision_id"):  # fmt: skip
            report.problems.append(f"entry {position}: no valid law_info/revision_info")
            continue
        _upsert_law(session, info)
        report.laws += 1
        rev = _upsert_revision(session, info["law_id"], revision, report)
        body = entry.get("law_full_text")
        if isinstance(body, dict) and body.get("tag") == "Law":
            _write_body(session, rev, body, "json", report)
    if report.laws == 0 and report.problems:
        raise LawImportProblem(f"{file_name}: {report.problems[0]}")
    session.flush()
    return report


def law_id_of(root: document.Node, file_name: str) -> tuple[str, str | None]:
    """(law id, revision id) from an e-Gov file name, else from the <Law> attributes."""
    name = PurePath(file_name).name
    if match := REVISION_RE.search(name):
        return match.group(1), match.group(0)
    if match := LAW_ID_RE.search(name):
        return match.group(0), None
    attr = root.get("attr") or {}
    era, code = ERAS.get(attr.get("Era", "")), TYPE_CODES.get(attr.get("LawType", ""))
    year, num = str(attr.get("Year", "")), str(attr.get("Num", ""))
    if era and code and len(code) == 2 and year.isdigit() and num.isdigit():
        return f"{era}{int(year):02d}{code}{int(num):010d}", None
    raise LawImportProblem(
        f"{file_name}: cannot tell the law id; name the file <law id>_<YYYYMMDD>_<amendment>.xml"
    )


def import_xml(session: Session, data: bytes, file_name: str) -> LawImportReport:
    """A 法令標準XML file (root ``<Law>``)."""
    report = LawImportReport(file_name)
    try:
        root = document.from_xml(data)
    except ET.ParseError as exc:
        raise LawImportProblem(f"{file_name}: truncated or not well-formed XML: {exc}") from None
    if root["tag"] != "Law":
        raise LawImportProblem(f"{file_name}: expected <Law>, found <{root['tag']}>")
    law_id, revision_id = law_id_of(root, file_name)
    title_node = document.find(root, "LawTitle")
    attr = root.get("attr") or {}
    num_node = document.find(root, "LawNum")
    _upsert_law(session, {"law_id": law_id, "law_type": attr.get("LawType", ""),
                          "law_num": document.text_of(num_node) if num_node else "",
                          "promulgation_date": None})  # fmt: skip
    report.laws += 1
    title_attr = (title_node or {}).get("attr") or {}
    rev = _upsert_revision(session, law_id, {
        "law_revision_id": revision_id or f"{law_id}_xml_{document.content_hash(root)[:12]}",
        "law_title": document.text_of(title_node) if title_node else "",
        "law_title_kana": title_attr.get("Kana", ""), "abbrev": title_attr.get("Abbrev", ""),
    }, report)  # fmt: skip
    _write_body(session, rev, root, "xml", report)
    session.flush()
    return report


def import_law_file(session: Session, data: bytes, file_name: str) -> LawImportReport:
    """JSON or XML by content."""
    if data.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<"):
        return import_xml(session, data, file_name)
    return import_api_json(session, data, file_name)
