"""Catalog records as CKAN API dicts (package, resource, organization, group, tag, licence).

Pure functions of loaded rows: the CKAN Action API, the REST API and the web pages render the
same dicts. Field names follow CKAN 2.10's ``package_show``; our extensions (``title_en``,
``municipalities``, ``data_dictionary`` ...) are extra keys CKAN clients ignore. Every key a
client sends back from ``package_show`` into ``package_update`` is either an input field of
:class:`~tsunagu.catalog.schemas.DatasetIn` or listed in ``CKAN_READ_ONLY``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from tsunagu.accounts import Organization

from .models import DataElement, DataService, Dataset, Distribution, Group, License

# Tags have no table of their own; their CKAN id is derived from the name so it is stable.
_TAG_NAMESPACE = uuid.UUID("5b0e8f8e-4f55-4c1e-9a4e-7473756e6167")


def ckan_timestamp(value: datetime | None) -> str | None:
    """CKAN's timestamp form: ISO 8601 in UTC without an offset (``2024-04-01T09:30:00.123456``)."""
    return value.isoformat() if value is not None else None


def _iso_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def tag_id(name: str) -> str:
    return str(uuid.uuid5(_TAG_NAMESPACE, name))


def tag_dict(name: str) -> dict[str, Any]:
    return {
        "id": tag_id(name),
        "name": name,
        "display_name": name,
        "state": "active",
        "vocabulary_id": None,
    }


def organization_dict(org: Organization, package_count: int | None = None) -> dict[str, Any]:
    """CKAN organization dict (``organization_show``; also embedded in packages)."""
    out: dict[str, Any] = {
        "id": str(org.id),
        "name": org.name,
        "title": org.title,
        "title_en": org.title_en,
        "display_name": org.title,
        "description": org.description,
        "image_url": org.image_url,
        "image_display_url": org.image_url,
        "url": org.url,
        "corporate_number": org.corporate_number,
        "lg_code": org.lg_code,
        "created": ckan_timestamp(org.created),
        "is_organization": True,
        "type": "organization",
        "state": "active",
        "approval_status": "approved",
    }
    if package_count is not None:
        out.update(package_count=package_count, num_followers=0, groups=[], extras=[], tags=[])
    return out


def group_dict(group: Group, package_count: int | None = None) -> dict[str, Any]:
    """CKAN group dict (``group_list`` with all_fields, ``group_show``)."""
    out: dict[str, Any] = {
        "id": str(group.id),
        "name": group.name,
        "title": group.title,
        "title_en": group.title_en,
        "display_name": group.title,
        "description": group.description,
        "image_display_url": "",
        "is_organization": False,
        "type": "group",
        "state": "active",
        "approval_status": "approved",
    }
    if package_count is not None:
        out["package_count"] = package_count
    return out


def _group_ref(group: Group) -> dict[str, Any]:
    # Only keys GroupRef accepts, so the dict round-trips into package_update.
    return {
        "id": str(group.id),
        "name": group.name,
        "title": group.title,
        "display_name": group.title,
        "description": group.description,
        "image_display_url": "",
    }


def license_dict(lic: License) -> dict[str, Any]:
    """CKAN licence dict (``license_list``)."""
    return {
        "id": lic.id,
        "title": lic.title,
        "title_en": lic.title_en,
        "url": lic.url,
        "status": "active",
        "maintainer": "",
        "family": "",
        "is_generic": lic.id in {"other-closed", "notspecified"},
        "is_okd_compliant": lic.is_open,
        "is_osi_compliant": False,
        "od_conformance": "approved" if lic.is_open else "not reviewed",
        "osd_conformance": "not reviewed",
        "domain_content": True,
        "domain_data": True,
        "domain_software": False,
        "eu_uri": lic.eu_uri,
    }


def data_element_dict(element: DataElement) -> dict[str, Any]:
    return {
        "name": element.name,
        "label_ja": element.label_ja,
        "definition": element.definition,
        "data_type": element.data_type,
        "unit": element.unit,
        "pattern": element.pattern,
        "required": element.required,
        "code_list": element.code_list_name,
    }


def resource_dict(res: Distribution, package_id: str) -> dict[str, Any]:
    """CKAN resource dict, with the data dictionary (データ項目) of the distribution."""
    return {
        "id": res.id,
        "package_id": package_id,
        "position": res.position,
        "name": res.name,
        "description": res.description,
        "url": res.url,
        "download_url": res.download_url,
        "format": res.format,
        "mimetype": res.media_type or None,
        "mimetype_inner": None,
        "size": res.byte_size,
        "hash": res.checksum,
        "hash_algorithm": res.checksum_algorithm,
        "language": res.language,
        "created": ckan_timestamp(res.created),
        "last_modified": ckan_timestamp(res.modified),
        "state": "active",
        "resource_type": None,
        "url_type": None,
        "cache_url": None,
        "cache_last_updated": None,
        "datastore_active": False,
        "data_dictionary": [data_element_dict(e) for e in res.elements],
    }


def data_service_dict(service: DataService) -> dict[str, Any]:
    return {
        "id": service.id,
        "title": service.title,
        "description": service.description,
        "endpoint_url": service.endpoint_url,
        "endpoint_description": service.endpoint_description,
    }


def package_dict(ds: Dataset) -> dict[str, Any]:
    """CKAN package dict of a dataset (``package_show``), with tsunagu's extensions."""
    lic = ds.license
    source = ds.source
    return {
        "id": ds.id,
        "name": ds.name,
        "title": ds.title,
        "title_en": ds.title_en,
        "notes": ds.notes,
        "notes_en": ds.notes_en,
        "type": "dataset",
        "state": ds.state,
        "private": ds.private,
        "owner_org": str(ds.organization_id),
        "organization": organization_dict(ds.organization),
        "creator_user_id": None,
        "license_id": ds.license_id or "",
        "license_title": lic.title if lic else "",
        "license_url": lic.url if lic else "",
        "isopen": bool(lic and lic.is_open),
        "url": ds.url,
        "version": ds.version,
        "author": ds.author,
        "author_email": ds.author_email,
        "maintainer": ds.maintainer,
        "maintainer_email": ds.maintainer_email,
        "metadata_created": ckan_timestamp(ds.metadata_created),
        "metadata_modified": ckan_timestamp(ds.metadata_modified),
        "issued": ckan_timestamp(ds.issued),
        "modified": ckan_timestamp(ds.modified),
        "frequency": ds.frequency,
        "temporal_start": _iso_date(ds.temporal_start),
        "temporal_end": _iso_date(ds.temporal_end),
        "municipalities": [m.lg_code for m in ds.municipalities],
        "num_tags": len(ds.tags),
        "tags": [tag_dict(t.name) for t in ds.tags],
        "groups": [_group_ref(g) for g in ds.groups],
        "num_resources": len(ds.distributions),
        "resources": [resource_dict(r, ds.id) for r in ds.distributions],
        "extras": [{"key": k, "value": _extra_value(v)} for k, v in sorted(ds.extras.items())],
        "data_services": [data_service_dict(s) for s in ds.services],
        "source": source.id if source else None,
        "attribution": source.attribution if source else "",
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


def _extra_value(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``package_patch``: the given top-level fields replace the current ones, the rest stay."""
    return {**current, **patch}
