"""Streamed DCAT-AP exports: the catalog is written batch by batch, never built as one graph.

Each batch of datasets becomes a small graph that is serialized and dropped. The pieces join
into one valid document: Turtle prefixes are declared once at the top, RDF/XML batches share one
``rdf:RDF`` element whose namespaces are declared up front, and JSON-LD batches are node objects
of one ``@graph`` array under one ``@context``. Turtle and JSON-LD are written here, subject by
subject, because rdflib's own serializers sort and inline blank nodes across the whole graph and
are 5-20 times slower (see docs/benchmarks.md, "DCAT export").
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCAT, RDF, XSD
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from tsunagu.kernel import NotFound, ValidationProblem

from . import dcat
from .models import DataService, Dataset

FORMATS: dict[str, tuple[str, str]] = {
    "ttl": ("turtle", "text/turtle; charset=utf-8"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("xml", "application/rdf+xml"),
}
BATCH = 200
CONTEXT = {prefix: str(ns) for prefix, ns in dcat.PREFIXES.items()} | {
    "rdf": str(RDF),
}


def media_type(fmt: str) -> str:
    return FORMATS[fmt][1]


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValidationProblem(f"unknown RDF format {fmt!r}; use one of {', '.join(FORMATS)}")
    return FORMATS[fmt][0]


def _public() -> Select[Any]:
    return select(Dataset.pk).where(Dataset.state == "active", Dataset.private.is_(False))


def _load(session: Session, pks: list[int]) -> list[Dataset]:
    rows = session.scalars(
        select(Dataset)
        .where(Dataset.pk.in_(pks))
        .order_by(Dataset.pk)
        .options(
            selectinload(Dataset.distributions),
            selectinload(Dataset.tags),
            selectinload(Dataset.groups),
            selectinload(Dataset.municipalities),
            selectinload(Dataset.services).selectinload(DataService.organization),
        )
    ).all()
    return list(rows)


class _Writer:
    """Joins serialized batch graphs into one document of ``fmt``."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.rdflib_format = _check_format(fmt)
        self.items = 0

    def head(self) -> str:
        if self.fmt == "ttl":
            return "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in CONTEXT.items()) + "\n"
        if self.fmt == "rdf":
            names = " ".join(
                f'xmlns:{p}="{ns}"' for p, ns in sorted(dcat.new_graph().namespaces()) if p
            )
            return f'<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF {names}>\n'
        if self.fmt == "jsonld":
            return '{"@context": ' + json.dumps(CONTEXT) + ', "@graph": [\n'
        return ""

    def chunk(self, g: Graph) -> str:
        if self.fmt == "ttl":
            return turtle(g)
        if self.fmt == "rdf":
            text = g.serialize(format="xml")
            start = text.index(">", text.index("<rdf:RDF")) + 1
            return text[start : text.rindex("</rdf:RDF>")]
        parts = [json.dumps(node, ensure_ascii=False) for node in jsonld_nodes(g)]
        if not parts:
            return ""
        text = (",\n" if self.items else "") + ",\n".join(parts)
        self.items += len(parts)
        return text

    def tail(self) -> str:
        return {"rdf": "</rdf:RDF>\n", "jsonld": "\n]}\n"}.get(self.fmt, "")


def _by_subject(g: Graph) -> dict[Any, list[tuple[Any, Any]]]:
    subjects: dict[Any, list[tuple[Any, Any]]] = {}
    for s, p, o in g:
        subjects.setdefault(s, []).append((p, o))
    return subjects


_COMPACT = sorted(((str(ns), p) for p, ns in CONTEXT.items()), key=lambda x: -len(x[0]))


def _curie(uri: str) -> str | None:
    for ns, prefix in _COMPACT:
        if uri.startswith(ns):
            local = uri[len(ns) :]
            if local and all(c.isalnum() or c in "_-" for c in local):
                return f"{prefix}:{local}"
    return None


def _ttl_term(term: Any) -> str:
    if isinstance(term, URIRef):
        return _curie(str(term)) or term.n3()
    if isinstance(term, Literal) and term.datatype is not None:
        lexical = Literal(str(term)).n3()
        return f"{lexical}^^{_curie(str(term.datatype)) or URIRef(term.datatype).n3()}"
    return str(term.n3())


def turtle(g: Graph) -> str:
    """The graph as Turtle, one subject block each (prefixes: the head's :data:`CONTEXT`)."""
    blocks = []
    for subject, pairs in _by_subject(g).items():
        pairs.sort(key=lambda po: (po[0] != RDF.type, str(po[0])))
        lines = []
        for pred, obj in pairs:
            verb = "a" if pred == RDF.type else _ttl_term(pred)
            lines.append(f"    {verb} {_ttl_term(obj)}")
        blocks.append(_ttl_term(subject) + "\n" + " ;\n".join(lines) + " .\n")
    return "\n".join(blocks) + "\n" if blocks else ""


def _jsonld_value(term: Any) -> dict[str, Any]:
    if isinstance(term, URIRef | BNode):
        return {"@id": term.n3() if isinstance(term, BNode) else str(term)}
    value: dict[str, Any] = {"@value": str(term)}
    if term.language:
        value["@language"] = term.language
    elif term.datatype is not None and term.datatype != XSD.string:
        value["@type"] = str(term.datatype)
    return value


def jsonld_nodes(g: Graph) -> list[dict[str, Any]]:
    """The graph as JSON-LD node objects (flattened form, full IRIs as property keys)."""
    nodes = []
    for subject, pairs in _by_subject(g).items():
        node: dict[str, Any] = {"@id": subject.n3() if isinstance(subject, BNode) else str(subject)}
        for pred, obj in pairs:
            if pred == RDF.type:
                node.setdefault("@type", []).append(str(obj))
            else:
                node.setdefault(_curie(str(pred)) or str(pred), []).append(_jsonld_value(obj))
        nodes.append(node)
    return nodes


@dataclass(frozen=True)
class CatalogPage:
    """Which datasets one catalog document holds: all of them (page None) or one page."""

    base: str
    publisher: str
    page: int | None = None
    page_size: int = 100
    path: str = ""  # the paged document's own URL without the query, for hydra links


def export_catalog(session: Session, fmt: str, spec: CatalogPage) -> Iterator[str]:
    """Yield the catalog (or one page of it) as text pieces of one RDF document."""
    writer = _Writer(fmt)
    total = session.scalar(select(func.count()).select_from(_public().subquery())) or 0
    modified: datetime | None = session.scalar(
        select(func.max(Dataset.metadata_modified)).where(Dataset.state == "active")
    )
    query = _public().order_by(Dataset.pk)
    if spec.page is not None:
        pages = max(1, math.ceil(total / spec.page_size))
        if spec.page < 1 or spec.page > pages:
            raise NotFound(f"page {spec.page} is out of range (1–{pages})")
        query = query.offset((spec.page - 1) * spec.page_size).limit(spec.page_size)
    pks = list(session.scalars(query))

    def pieces() -> Iterator[str]:
        yield writer.head()
        g = dcat.new_graph()
        dcat.add_catalog(g, spec.base, spec.publisher, modified)
        if spec.page is not None:
            view = dcat.add_page_view(g, spec.path, spec.page, pages, total, spec.page_size)
            g.add((dcat.catalog_uri(spec.base), dcat.HYDRA.view, view))
        yield writer.chunk(g)
        catalog = dcat.catalog_uri(spec.base)
        for start in range(0, len(pks), BATCH):
            g = dcat.new_graph()
            for ds in _load(session, pks[start : start + BATCH]):
                g.add((catalog, DCAT.dataset, dcat.add_dataset(g, spec.base, ds)))
                for service in ds.services:
                    g.add((catalog, DCAT.service, dcat.add_service(g, spec.base, service, None)))
            yield writer.chunk(g)
            # A read-only export: drop the batch's rows so memory stays flat over 100k datasets.
            session.expunge_all()
        yield writer.tail()

    return pieces()


def dataset_document(ds: Dataset, fmt: str, base: str) -> str:
    """One dataset (with its distributions and services) as a complete RDF document."""
    g = dcat.new_graph()
    dcat.add_dataset(g, base, ds)
    writer = _Writer(fmt)
    return writer.head() + writer.chunk(g) + writer.tail()
