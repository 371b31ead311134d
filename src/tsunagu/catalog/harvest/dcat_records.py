"""Map DCAT (DCAT-AP, DCAT-AP.de, GeoDCAT …) datasets in an RDF graph to catalog records."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS

from ..ckan_records import NAME_RE, clip
from ..dcat import DCAT_VERSION, VCARD
from ..dcat_vocab import ESTAT_SAC
from ..licenses import LICENSES
from ..records import BadRecord, DatasetRecord, OrgRecord, ResourceRecord

_NS = uuid.UUID("0b6f0c8e-6d8b-4a57-9d0c-686172766573")  # harvested DCAT records
_LICENSE_BY_URI = {eu: lid for lid, *_, eu in reversed(LICENSES) if eu} | {
    url.rstrip("/"): lid for lid, _, _, url, _, _ in LICENSES if url
}
# Licences some portals use by their own URIs (GovData, datos.gob.es).
_LICENSE_BY_URI |= {
    "http://dcat-ap.de/def/licenses/cc-by/4.0": "cc-by-4.0",
    "https://creativecommons.org/licenses/by/4.0": "cc-by-4.0",
    "http://creativecommons.org/licenses/by/4.0": "cc-by-4.0",
    "http://dcat-ap.de/def/licenses/cc-zero": "cc-zero",
}


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _pick(g: Graph, node: Any, pred: URIRef) -> str:
    """One literal of ``pred``: Japanese first, then untagged, English, anything."""
    values = [v for v in g.objects(node, pred) if isinstance(v, Literal)]
    for wanted in ("ja", None, "en"):
        for value in values:
            if value.language == wanted:
                return str(value).strip()
    return str(values[0]).strip() if values else ""


def _en(g: Graph, node: Any, pred: URIRef) -> str:
    for value in g.objects(node, pred):
        if isinstance(value, Literal) and value.language == "en":
            return str(value).strip()
    return ""


def _when(g: Graph, node: Any, pred: URIRef) -> datetime | None:
    value = g.value(node, pred)
    if not isinstance(value, Literal):
        return None
    raw = value.toPython()
    if isinstance(raw, datetime):
        return raw.astimezone(UTC).replace(tzinfo=None) if raw.tzinfo else raw
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day)  # noqa: DTZ001 -- stored naive UTC
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _url(value: Any) -> str:
    text = str(value).strip() if value is not None else ""
    return text if text.startswith(("http://", "https://", "ftp://")) and len(text) <= 2000 else ""


def _label(value: Any) -> str:
    """A vocabulary value as a short label: the URI's last segment, or the literal."""
    if value is None:
        return ""
    text = str(value).rstrip("/")
    return text.rsplit("/", 1)[-1] if isinstance(value, URIRef) else text


def lg_code_of(node: Any, g: Graph) -> str | None:
    """A 6-digit 全国地方公共団体コード from a spatial node (our e-Stat URIs or a notation)."""
    notation = g.value(node, SKOS.notation)
    if notation is not None and re.fullmatch(r"\d{6}", str(notation)):
        return str(notation)
    text = str(node)
    if text.startswith(ESTAT_SAC) and re.fullmatch(r"\d{5}", text[len(ESTAT_SAC) :]):
        base = text[len(ESTAT_SAC) :]
        total = sum(int(d) * w for d, w in zip(base, (6, 5, 4, 3, 2), strict=True))
        return base + str((11 - total % 11) % 10)
    return None


def _publisher(g: Graph, ds: Any, prefix: str) -> OrgRecord:
    """The dct:publisher: its foaf:name, else its URI's last segment (datos.gob.es gives only
    a DIR3 code URI), else the harvest source itself."""
    agent = g.value(ds, DCTERMS.publisher)
    name = _pick(g, agent, FOAF.name) if agent is not None else ""
    if not name and isinstance(agent, URIRef):
        name = _label(agent)
    if not name:
        return OrgRecord(name=prefix[:100], title=f"{prefix} (harvest source)")
    slug = _slug(name)
    if not NAME_RE.match(slug) or len(slug) > 90:
        slug = f"{prefix}-{_hash(str(agent) + name)}"
    return OrgRecord(
        name=slug[:100], title=clip(name, 300), url=_url(g.value(agent, FOAF.homepage))
    )


def _resources(g: Graph, ds: Any, ds_id: str) -> tuple[list[ResourceRecord], set[str]]:
    resources: list[ResourceRecord] = []
    licences: set[str] = set()
    for position, dist in enumerate(sorted(g.objects(ds, DCAT.distribution), key=str)):
        access = _url(g.value(dist, DCAT.accessURL))
        download = _url(g.value(dist, DCAT.downloadURL))
        size = g.value(dist, DCAT.byteSize)
        try:
            byte_size = int(float(str(size))) if size is not None else None
        except ValueError:
            byte_size = None
        licence = g.value(dist, DCTERMS.license)
        if licence is not None:
            licences.add(str(licence).rstrip("/"))
        resources.append(
            ResourceRecord(
                id=_uid(ds_id, str(dist) if isinstance(dist, URIRef) else str(position)),
                position=position,
                name=clip(_pick(g, dist, DCTERMS.title), 500),
                description=clip(_pick(g, dist, DCTERMS.description), 100_000),
                url=access or download,
                download_url=download,
                format=clip(_label(g.value(dist, DCTERMS.format)), 100).upper(),
                media_type=clip(
                    str(g.value(dist, DCAT.mediaType) or "").split("media-types/")[-1], 200
                ),
                byte_size=byte_size if byte_size is not None and byte_size >= 0 else None,
            )
        )
    return resources, licences


def dataset_record(g: Graph, ds: Any, prefix: str, now: datetime) -> DatasetRecord:
    """One dcat:Dataset node → a record; raises :class:`BadRecord` if it cannot be stored."""
    title = _pick(g, ds, DCTERMS.title)
    if not title:
        raise BadRecord("the dataset has no dct:title")
    key = str(ds) if isinstance(ds, URIRef) else _pick(g, ds, DCTERMS.identifier)
    if not key:
        raise BadRecord(f"dataset {title[:60]!r} has neither a URI nor a dct:identifier")
    ds_id = _uid(prefix, key)
    ident = _pick(g, ds, DCTERMS.identifier) or key.rstrip("/").rsplit("/", 1)[-1]
    slug = _slug(ident)[:60] or _hash(key)
    resources, licences = _resources(g, ds, ds_id)
    known = [_LICENSE_BY_URI[u] for u in sorted(licences) if u in _LICENSE_BY_URI]
    contact = g.value(ds, DCAT.contactPoint)
    email = str(g.value(contact, VCARD.hasEmail) or "") if contact is not None else ""
    places = [c for c in (lg_code_of(n, g) for n in g.objects(ds, DCTERMS.spatial)) if c]
    temporal = g.value(ds, DCTERMS.temporal)
    start = _when(g, temporal, DCAT.startDate) if temporal is not None else None
    end = _when(g, temporal, DCAT.endDate) if temporal is not None else None
    modified = _when(g, ds, DCTERMS.modified)
    extras: dict[str, Any] = {"harvest_uri": key}
    if licences and not known:
        extras["license_original"] = clip(sorted(licences)[0], 300)
    tags = list(dict.fromkeys(clip(k, 100) for k in g.objects(ds, DCAT.keyword) if str(k).strip()))
    return DatasetRecord(
        id=ds_id,
        name=f"{prefix}-{slug}"[:100].rstrip("-_"),
        title=clip(title, 500),
        title_en=clip(_en(g, ds, DCTERMS.title), 500),
        notes=clip(_pick(g, ds, DCTERMS.description), 100_000),
        organization=_publisher(g, ds, prefix),
        metadata_created=now,
        metadata_modified=now,
        license_id=known[0] if known else "notspecified",
        license_fallback=not known,
        url=_url(g.value(ds, DCAT.landingPage)),
        version=clip(
            g.value(ds, DCAT_VERSION)
            or g.value(ds, URIRef("http://www.w3.org/2002/07/owl#versionInfo"))
            or "",
            100,
        ),
        maintainer=clip(_pick(g, contact, VCARD.fn), 300) if contact is not None else "",
        maintainer_email=clip(email.removeprefix("mailto:"), 300),
        frequency=clip(_label(g.value(ds, DCTERMS.accrualPeriodicity)), 100),
        temporal_start=start.date() if start else None,
        temporal_end=end.date() if end else None,
        issued=_when(g, ds, DCTERMS.issued),
        modified=modified,
        extras=extras,
        tags=[t for t in tags if t],
        municipalities=list(dict.fromkeys(places)),
        resources=resources,
    )


def datasets_in(g: Graph) -> Iterator[Any]:
    """The dcat:Dataset nodes of a page, in a stable order."""
    return iter(sorted(set(g.subjects(RDF.type, DCAT.Dataset)), key=str))
