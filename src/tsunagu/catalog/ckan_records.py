"""Map a CKAN ``package_show`` result (a package dict) to a :class:`DatasetRecord`.

The mapping is shared by every CKAN source (東京都, data.go.jp, data.gov.uk). Portal-specific
choices (spatial coverage, organization codes) are passed in by the caller.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from .records import (
    BadRecord,
    DatasetRecord,
    GroupRecord,
    OrgRecord,
    ResourceRecord,
)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,99}\Z")
UUID_MAX = 36
FALLBACK_LICENSE = "notspecified"

# CKAN licence ids (lower-cased) → ids of tsunagu.catalog.licenses.
_LICENSE_IDS = {
    "cc-by-4.0": "cc-by-4.0",
    # data.go.jp labels its default licence "CC-BY"; its terms (政府標準利用規約 2.0) name
    # CC BY 4.0 as the compatible licence, so that is the version meant.
    "cc-by": "cc-by-4.0",
    "cc-by-sa-4.0": "cc-by-sa-4.0",
    "cc-by-sa": "cc-by-sa-4.0",
    "cc-by-nd-4.0": "cc-by-nd-4.0",
    "cc-by-nc-4.0": "cc-by-nc-4.0",
    "cc-by-nc-nd-4.0": "cc-by-nc-nd-4.0",
    "cc-by-2.1-jp": "cc-by-2.1-jp",
    "cc0-1.0": "cc-zero",
    "cc-zero": "cc-zero",
    "odc-by": "odc-by",
    "uk-ogl": "ogl-uk-3.0",
    "ogl-uk-3.0": "ogl-uk-3.0",
    "other-closed": "other-closed",
    "notspecified": "notspecified",
}
# Licence titles some portals use instead of an id (NFKC-normalized, spaces removed).
_LICENSE_TITLES = {
    "政府標準利用規約(第2.0版)": "gov-std-2.0",
    "公共データ利用規約(第1.0版)": "pdl-1.0",
    "opengovernmentlicencev3.0": "ogl-uk-3.0",
}
# Extras that are core fields of our model (key → field); the rest stay extras.
_FREQUENCY_KEYS = ("更新頻度", "frequency_of_update", "frequency-of-update", "frequency")
_CKAN_CORE = frozenset(
    {
        "id", "name", "title", "notes", "url", "version", "author", "author_email", "maintainer",
        "maintainer_email", "license_id", "license_title", "license_url", "private", "state",
        "type", "metadata_created", "metadata_modified", "organization", "owner_org", "resources",
        "tags", "groups", "extras", "num_resources", "num_tags", "isopen", "creator_user_id",
        "revision_id", "relationships_as_object", "relationships_as_subject", "title_en",
        "notes_en",
    }
)  # fmt: skip
_RESOURCE_CORE = frozenset(
    {
        "id", "name", "description", "url", "format", "mimetype", "mimetype_inner", "size",
        "hash", "created", "last_modified", "position", "package_id", "revision_id", "state",
        "cache_url", "cache_last_updated", "url_type", "resource_type", "datastore_active",
        "language", "last_modified_date",
    }
)  # fmt: skip


def clip(value: Any, limit: int) -> str:
    """A text field as str, cut to the column length (labels only; never for ids or URLs)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.strip()[:limit]


def parse_datetime(value: Any) -> datetime | None:
    """CKAN timestamp (ISO 8601, UTC when naive) → naive UTC datetime; blank → None."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _year_bound(value: Any, end: bool) -> date | None:
    # data.gov.uk writes temporal coverage as ["2005"] (a list holding a year or a date).
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d{4}", text):
        return date(int(text), 12, 31) if end else date(int(text), 1, 1)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def map_license(license_id: Any, license_title: Any) -> str | None:
    """Our licence id for a CKAN licence id/title, or None if it is not one we know."""
    if isinstance(license_id, str) and license_id.strip():
        found = _LICENSE_IDS.get(license_id.strip().lower())
        if found:
            return found
    if isinstance(license_title, str) and license_title.strip():
        key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", license_title)).lower()
        return _LICENSE_TITLES.get(key)
    return None


def _extras(pkg: Mapping[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    raw = pkg.get("extras") or []
    if not isinstance(raw, list):
        raise BadRecord("extras is not a list")
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise BadRecord("an extra has no key")
        extras[item["key"][:200]] = "" if item.get("value") is None else str(item["value"])
    # Non-core top-level fields (ckanext-scheming / data.gov.uk) are extras in our model.
    for key, value in pkg.items():
        if key in _CKAN_CORE or key in extras or value in (None, "", [], {}):
            continue
        if key.startswith("temporal_coverage") or key == "contact-email":
            continue
        extras[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return extras


def _resource(raw: Any, position: int) -> ResourceRecord:
    if not isinstance(raw, dict):
        raise BadRecord("a resource is not an object")
    rid = raw.get("id")
    if not isinstance(rid, str) or not rid or len(rid) > UUID_MAX:
        raise BadRecord(f"resource id {rid!r} is missing or too long")
    url = raw.get("url") or ""
    if not isinstance(url, str) or len(url) > 2000:
        raise BadRecord(f"resource {rid} has an invalid url")
    size = raw.get("size")
    if isinstance(size, str) and size.strip().isdigit():
        size = int(size)
    byte_size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
    extras = {
        k: v for k, v in raw.items()
        if k not in _RESOURCE_CORE and v not in (None, "", [], {}) and isinstance(v, str | int)
    }  # fmt: skip
    return ResourceRecord(
        id=rid,
        position=position,
        name=clip(raw.get("name"), 500),
        description=clip(raw.get("description"), 100_000),
        url=url.strip(),
        format=clip(raw.get("format"), 100).upper(),
        media_type=clip(raw.get("mimetype"), 200),
        byte_size=byte_size,
        checksum=clip(raw.get("hash"), 200),
        language=clip(raw.get("language"), 20),
        created=parse_datetime(raw.get("created")),
        modified=parse_datetime(raw.get("last_modified")),
        extras=extras,
    )


def _organization(raw: Any) -> OrgRecord:
    if not isinstance(raw, dict):
        raise BadRecord("the package has no organization")
    name, title = raw.get("name"), raw.get("title")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise BadRecord(f"organization name {name!r} is not a valid slug")
    if not isinstance(title, str) or not title.strip():
        raise BadRecord(f"organization {name} has no title")
    description = clip(raw.get("description"), 100_000)
    # Tokyo's portal keeps each organization's home page in its description.
    url = description if re.fullmatch(r"https?://\S+", description) else ""
    image = raw.get("image_url") if isinstance(raw.get("image_url"), str) else ""
    return OrgRecord(
        name=name,
        title=clip(title, 300),
        description=description,
        url=url[:2000],
        image_url=(image or "")[:2000],
    )


def package_to_record(
    pkg: Any,
    *,
    municipalities: Callable[[OrgRecord], list[str]] | None = None,
    organization: Callable[[OrgRecord], OrgRecord] | None = None,
) -> DatasetRecord:
    """Map one CKAN package dict; raises :class:`BadRecord` if it cannot be stored.

    ``organization`` may enrich the publisher (e.g. with its 全国地方公共団体コード) and
    ``municipalities`` derives the spatial coverage from it.
    """
    if not isinstance(pkg, dict):
        raise BadRecord("a package is not a JSON object")
    pid, name, title = pkg.get("id"), pkg.get("name"), pkg.get("title")
    if not isinstance(pid, str) or not pid or len(pid) > UUID_MAX:
        raise BadRecord(f"package id {pid!r} is missing or too long")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise BadRecord(f"package {pid}: name {name!r} is not a valid slug")
    if not isinstance(title, str) or not title.strip() or len(title) > 500:
        raise BadRecord(f"package {pid}: title is missing or longer than 500 characters")
    if pkg.get("state", "active") != "active":
        raise BadRecord(f"package {pid} is not active ({pkg.get('state')})")
    created = parse_datetime(pkg.get("metadata_created"))
    modified = parse_datetime(pkg.get("metadata_modified")) or created
    if created is None or modified is None:
        raise BadRecord(f"package {pid} has no metadata_created")
    org = _organization(pkg.get("organization"))
    if organization is not None:
        org = organization(org)

    extras = _extras(pkg)
    frequency = ""
    for key in _FREQUENCY_KEYS:
        if key in extras:
            frequency = clip(extras.pop(key), 100) or frequency

    license_id = map_license(pkg.get("license_id"), pkg.get("license_title"))
    resources_raw = pkg.get("resources") or []
    if not isinstance(resources_raw, list):
        raise BadRecord(f"package {pid}: resources is not a list")
    if license_id is None:
        # data.go.jp leaves the package licence empty and sets it on every resource instead.
        per_resource = {
            map_license(r.get("resource_license_id"), None)
            for r in resources_raw if isinstance(r, dict)
        }  # fmt: skip
        if len(per_resource) == 1 and None not in per_resource:
            license_id = per_resource.pop()
    fallback = license_id is None
    if fallback:
        extras.setdefault(
            "license_original", clip(pkg.get("license_id") or pkg.get("license_title"), 300)
        )

    landing = pkg.get("url") or extras.get("landingPage") or ""
    tags: list[str] = []
    for tag in pkg.get("tags") or []:
        tag_name = tag.get("name") if isinstance(tag, dict) else None
        if isinstance(tag_name, str) and tag_name.strip() and tag_name.strip()[:100] not in tags:
            tags.append(tag_name.strip()[:100])
    groups: list[GroupRecord] = []
    for group in pkg.get("groups") or []:
        if not isinstance(group, dict) or not NAME_RE.match(str(group.get("name", ""))):
            continue
        groups.append(
            GroupRecord(
                name=group["name"],
                title=clip(group.get("title") or group.get("display_name") or group["name"], 300),
                description=clip(group.get("description"), 10_000),
            )
        )
    resources = [_resource(r, i) for i, r in enumerate(resources_raw)]
    if len({r.id for r in resources}) != len(resources):
        raise BadRecord(f"package {pid} repeats a resource id")

    return DatasetRecord(
        id=pid,
        name=name,
        title=title.strip(),
        organization=org,
        metadata_created=created,
        metadata_modified=modified,
        notes=clip(pkg.get("notes"), 100_000),
        license_id=license_id or FALLBACK_LICENSE,
        license_fallback=fallback,
        url=landing.strip() if isinstance(landing, str) and len(landing) <= 2000 else "",
        version=clip(pkg.get("version"), 100),
        author=clip(pkg.get("author"), 300),
        author_email=clip(pkg.get("author_email"), 300),
        maintainer=clip(pkg.get("maintainer"), 300),
        maintainer_email=clip(pkg.get("maintainer_email") or pkg.get("contact-email"), 300),
        frequency=frequency,
        temporal_start=_year_bound(pkg.get("temporal_coverage-from"), end=False),
        temporal_end=_year_bound(pkg.get("temporal_coverage-to"), end=True),
        issued=parse_datetime(extras.get("release_date")),
        private=bool(pkg.get("private", False)),
        extras=extras,
        tags=tags,
        groups=groups,
        municipalities=municipalities(org) if municipalities else [],
        resources=resources,
    )


def unwrap(document: Any) -> Any:
    """The package dict of a ``package_show`` envelope, or the dict itself if not wrapped."""
    if isinstance(document, dict) and "result" in document and "help" in document:
        if document.get("success") is not True:
            raise BadRecord("package_show envelope reports success=false")
        return document["result"]
    return document
