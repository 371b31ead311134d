"""DCAT-AP 3.0.1 SHACL validation (pyshacl), with results grouped by dataset.

Shapes: ``data/dcat-ap-SHACL.ttl`` (the spec's SHACL template: cardinality, literal types and
class ranges; every result a Violation) and, on request, ``data/shapes_recommended.ttl``
(recommended properties, sh:Warning). A result is *range* when the value is not of the class the
property needs (``sh:ClassConstraintComponent``: a vocabulary URI not typed as
``dct:LicenseDocument``, a publisher that is no ``foaf:Agent`` …); every other result is *value*
(missing, repeated or ill-typed values).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from rdflib import Graph
from rdflib.namespace import DCAT, RDF, SH

from tsunagu.kernel import ValidationProblem

RDF_FORMATS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
    "application/n-triples": "nt",
}
SUFFIX_FORMATS = {".ttl": "turtle", ".rdf": "xml", ".xml": "xml", ".jsonld": "json-ld",
                  ".json": "json-ld", ".nt": "nt"}  # fmt: skip
CATALOG = "(catalog)"
OTHER = "(other)"


@cache
def shapes(name: str = "dcat-ap-SHACL.ttl") -> Graph:
    """A shapes graph shipped in ``catalog/data`` (parsed once per process)."""
    text = resources.files("tsunagu.catalog").joinpath("data", name).read_text(encoding="utf-8")
    g = Graph().parse(data=text, format="turtle")
    # DCAT-AP 3.0.1's SHACL lists one property shape of dcat:DataServiceShape that it never
    # defines (…DataServiceShape/dc08f4dc…); pyshacl then refuses to validate any DataService.
    # Drop such dangling references (a shape without sh:path constrains nothing anyway).
    for node, _, prop in list(g.triples((None, SH.property, None))):
        if g.value(prop, SH.path) is None:
            g.remove((node, SH.property, prop))
    return g


# The recommended shapes reuse the node names of the main file with other property shapes, so
# merged into one graph pyshacl rejects them; they run as a second, separate validation.
SHAPE_FILES = ("dcat-ap-SHACL.ttl",)
RECOMMENDED_FILES = ("dcat-ap-SHACL.ttl", "shapes_recommended.ttl")


def parse_rdf(data: bytes | str, rdf_format: str) -> Graph:
    """Parse RDF of one format; malformed input is a :class:`ValidationProblem`."""
    g = Graph()
    try:
        with warnings.catch_warnings():
            # rdflib 7's JSON-LD parser builds a deprecated ConjunctiveGraph internally.
            warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
            g.parse(data=data, format=rdf_format)
    except Exception as exc:  # rdflib raises many types (SyntaxError, BadSyntax, SAX, JSON)
        raise ValidationProblem(f"malformed {rdf_format} RDF: {str(exc)[:300]}") from exc
    return g


@dataclass(frozen=True)
class Finding:
    """One SHACL result: on which node, which property, what kind, and the message."""

    focus: str
    path: str
    kind: str  # "value" (missing/invalid) or "range" (class / vocabulary range)
    severity: str  # "Violation" or "Warning"
    message: str
    value: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "focus": self.focus, "path": self.path, "kind": self.kind,
            "severity": self.severity, "message": self.message, "value": self.value,
        }  # fmt: skip


@dataclass
class Report:
    """SHACL results grouped by the dataset each focus node belongs to."""

    conforms: bool
    datasets: int
    groups: dict[str, list[Finding]] = field(default_factory=dict)

    @property
    def violations(self) -> int:
        return sum(1 for fs in self.groups.values() for f in fs if f.severity == "Violation")

    @property
    def warnings(self) -> int:
        return sum(1 for fs in self.groups.values() for f in fs if f.severity == "Warning")

    def as_dict(self) -> dict[str, Any]:
        return {
            "conforms": self.conforms,
            "datasets": self.datasets,
            "violations": self.violations,
            "warnings": self.warnings,
            "results": {
                owner: {
                    "value": [f.as_dict() for f in found if f.kind == "value"],
                    "range": [f.as_dict() for f in found if f.kind == "range"],
                }
                for owner, found in sorted(self.groups.items())
            },
        }


def _owner(g: Graph, node: Any, datasets: set[Any], catalogs: set[Any]) -> str:
    """The dataset a node describes: itself, or the nearest dataset that links to it."""
    frontier, seen = [node], {node}
    for _ in range(4):  # dataset → distribution → checksum → algorithm is the deepest path
        for current in frontier:
            if current in datasets:
                return str(current)
        if any(c in catalogs for c in frontier):
            return CATALOG
        frontier = [s for n in frontier for s in g.subjects(None, n) if s not in seen]
        seen.update(frontier)
        if not frontier:
            break
    return OTHER


def validate_graph(g: Graph, *, recommended: bool = False) -> Report:
    """Validate a data graph against the DCAT-AP shapes; never raises on non-conformance."""
    from pyshacl import validate

    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    catalogs = set(g.subjects(RDF.type, DCAT.Catalog))
    report = Report(conforms=True, datasets=len(datasets))
    for name in RECOMMENDED_FILES if recommended else SHAPE_FILES:
        _, results, _ = validate(g, shacl_graph=shapes(name), inference="none",
                                 allow_warnings=True)  # fmt: skip
        if not isinstance(results, Graph):  # pyshacl returns a Graph for a Graph input
            raise TypeError("pyshacl returned no results graph")
        _collect(report, g, results, datasets, catalogs)
    for found in report.groups.values():
        found.sort(key=lambda f: (f.kind, f.focus, f.path))
    # Warnings alone do not make a record non-conformant.
    report.conforms = report.violations == 0
    return report


def _collect(report: Report, g: Graph, results: Graph, datasets: set[Any],
             catalogs: set[Any]) -> None:  # fmt: skip
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        component = results.value(result, SH.sourceConstraintComponent)
        severity = results.value(result, SH.resultSeverity)
        finding = Finding(
            focus=str(focus),
            path=str(results.value(result, SH.resultPath) or ""),
            kind="range" if component == SH.ClassConstraintComponent else "value",
            severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            message=str(results.value(result, SH.resultMessage) or ""),
            value=str(results.value(result, SH.value) or ""),
        )
        report.groups.setdefault(_owner(g, focus, datasets, catalogs), []).append(finding)


def validate_rdf(data: bytes | str, rdf_format: str, *, recommended: bool = False) -> Report:
    return validate_graph(parse_rdf(data, rdf_format), recommended=recommended)


def format_for(content_type: str) -> str:
    """The rdflib format of a request's Content-Type."""
    media = content_type.split(";")[0].strip().lower()
    if media not in RDF_FORMATS:
        raise ValidationProblem(
            f"unsupported Content-Type {media or '(none)'!r}; send one of "
            + ", ".join(sorted(RDF_FORMATS))
        )
    return RDF_FORMATS[media]


def text_report(report: Report) -> str:
    """A plain-text report for the CLI: per dataset, values first, then ranges."""
    lines = [
        f"conforms: {'yes' if report.conforms else 'no'} — {report.datasets} dataset(s), "
        f"{report.violations} violation(s), {report.warnings} warning(s)"
    ]
    for owner, found in sorted(report.groups.items()):
        lines.append(f"\n{owner}")
        for kind, title in (("value", "missing or invalid values"),
                            ("range", "vocabulary / class range")):  # fmt: skip
            subset = [f for f in found if f.kind == kind]
            if subset:
                lines.append(f"  {title}:")
                lines += [
                    f"    [{f.severity}] {_short(f.path)} on {_short(f.focus)}: {f.message}"
                    for f in subset
                ]
    return "\n".join(lines)


def _short(uri: str) -> str:
    for ns, prefix in ((str(DCAT), "dcat:"), ("http://purl.org/dc/terms/", "dct:"),
                       ("http://xmlns.com/foaf/0.1/", "foaf:")):  # fmt: skip
        if uri.startswith(ns):
            return prefix + uri[len(ns) :]
    return uri
