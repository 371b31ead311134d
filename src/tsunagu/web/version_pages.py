"""Version pages of the catalog site: a dataset's history, one version, as of a date, a diff."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from tsunagu.catalog.versions.services import (
    compare,
    get_version,
    latest_number,
    list_versions,
    parse_as_of,
    parse_number,
    version_as_of,
)
from tsunagu.http import get_session
from tsunagu.kernel import BadRequest

from .i18n import negotiate, translator
from .render import render

router = APIRouter(include_in_schema=False)
DbSession = Annotated[Session, Depends(get_session)]
PAGE_SIZE = 100

# Field labels on the diff page: the dataset page's own labels where there is one.
FIELD_LABELS = {
    "title": "version.field_title", "title_en": "version.field_title_en",
    "notes": "dataset.description", "notes_en": "version.field_notes_en",
    "license_id": "dataset.license", "owner_org": "dataset.publisher",
    "author": "dataset.author", "maintainer": "dataset.contact", "tags": "dataset.tags",
    "groups": "dataset.groups", "municipalities": "dataset.spatial",
    "frequency": "dataset.frequency", "issued": "dataset.issued", "modified": "dataset.modified",
    "version": "dataset.version", "url": "dataset.landing", "state": "version.field_state",
    "private": "version.field_private", "name": "version.field_name",
    "data_dictionary": "dataset.dictionary", "format": "facet.res_format",
    "download_url": "dataset.download", "description": "dataset.description",
}  # fmt: skip


def _check_params(request: Request, allowed: tuple[str, ...]) -> None:
    t = translator(negotiate(request))
    for name in request.query_params:
        if name not in ("lang", *allowed):
            raise BadRequest(t("bad.param", name=name[:50], allowed=", ".join(("lang", *allowed))))


def show_value(value: Any) -> str:
    """A snapshot value as text: lists joined, mappings and records as compact JSON."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _label(t: Any, field: str) -> str:
    key = FIELD_LABELS.get(field)
    return f"{t(key)} ({field})" if key else field


@router.get("/dataset/{name}/versions")
def versions_page(name: str, request: Request, session: DbSession) -> Response:
    _check_params(request, ("page",))
    t = translator(negotiate(request))
    raw = request.query_params.get("page", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise BadRequest(t("bad.page"), field="page")
    number = int(raw)
    page = list_versions(session, name, None, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    pages = max(1, -(-page.total // PAGE_SIZE))
    base = f"/dataset/{page.dataset.name}/versions"
    return render(
        request,
        "dataset_versions.html",
        {
            "nav": "datasets",
            "ds": page.dataset,
            "versions": page.versions,
            "total": page.total,
            "latest": latest_number(session, page.dataset, None),
            "prev_url": f"{base}?page={number - 1}" if number > 1 else None,
            "next_url": f"{base}?page={number + 1}" if number < pages else None,
        },
    )


@router.get("/dataset/{name}/versions/as-of")
def version_as_of_page(name: str, request: Request, session: DbSession) -> Response:
    _check_params(request, ("date",))
    moment = parse_as_of(request.query_params.get("date", ""), "date")
    version = version_as_of(session, name, moment, None)
    return _version_page(request, session, name, version, as_of=request.query_params["date"])


@router.get("/dataset/{name}/versions/diff")
def diff_page(name: str, request: Request, session: DbSession) -> Response:
    _check_params(request, ("from", "to"))
    t = translator(negotiate(request))
    raw_from, raw_to = request.query_params.get("from"), request.query_params.get("to")
    old = parse_number(raw_from, "from") if raw_from else None
    new = parse_number(raw_to, "to") if raw_to else None
    before, after, changes = compare(session, name, None, old, new)
    fields = [
        {"label": _label(t, c["field"]), "before": show_value(c["before"]),
         "after": show_value(c["after"])}
        for c in changes["fields"]
    ]  # fmt: skip
    resources = changes["resources"]
    changed = [
        {
            "id": r["id"], "name": r["name"],
            "fields": [
                {"label": _label(t, c["field"]), "before": show_value(c["before"]),
                 "after": show_value(c["after"])}
                for c in r["fields"]
            ],
        }
        for r in resources["changed"]
    ]  # fmt: skip
    return render(
        request,
        "dataset_diff.html",
        {
            "nav": "datasets",
            "name": name,
            "title": after.snapshot.get("title", name),
            "title_en": after.snapshot.get("title_en", ""),
            "before": before,
            "after": after,
            "fields": fields,
            "added": resources["added"],
            "removed": resources["removed"],
            "changed": changed,
        },
    )


@router.get("/dataset/{name}/versions/{number}")
def version_page(name: str, number: str, request: Request, session: DbSession) -> Response:
    _check_params(request, ())
    version = get_version(session, name, parse_number(number, "number"), None)
    return _version_page(request, session, name, version)


def _version_page(
    request: Request, session: Session, name: str, version: Any, as_of: str = ""
) -> Response:
    snap = version.snapshot
    return render(
        request,
        "dataset_version.html",
        {
            "nav": "datasets",
            "name": name,
            "v": version,
            "snap": snap,
            "organization": snap.get("organization") or {},
            "as_of": as_of,
            "show_value": show_value,
        },
    )
