"""DCAT-AP 3.0.1 SHACL validation (pyshacl), with results grouped by dataset.

Shapes: ``data/dcat-ap-SHACL.ttl`` (the spec's SHACL template: cardinality, literal types and
class ranges; every result a Violation) and, on request, ``data/shapes_recommended.ttl``
(recommended properties, sh:Warning). A result is *range* when the value is not of the class the
property needs (``sh:ClassConstraintComponent``: a vocabulary URI not typed as
``dct:LicenseDocument``, a publisher that is no ``foaf:Agent`` …); every other result is *value*
(missing, repeated or ill-typed values).

Parsing never fetches anything (the RDF comes from strangers: the validation endpoint and
harvested sources). JSON-LD with a remote ``@context`` or ``@import`` is refused, since rdflib 7
has no option to turn its context loader off (it would read any ``http:`` or ``file:`` URL);
RDF/XML is read with external entities off and a DTD may only declare small, flat entities.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, NoReturn, cast
from xml.parsers import expat
from xml.sax import handler as sax_handler

from rdflib import Graph
from rdflib.namespace import DCAT, RDF, SH
from rdflib.parser import PythonInputSource, create_input_source
from rdflib.plugins.parsers.rdfxml import create_parser

from tsunagu.kernel import PayloadTooLarge, ValidationProblem

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
    """Parse RDF of one format, fetching nothing; bad input is a :class:`ValidationProblem`."""
    g = Graph()
    try:
        with warnings.catch_warnings():
            # rdflib 7's JSON-LD parser builds a deprecated ConjunctiveGraph internally.
            warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
            if rdf_format == "json-ld":
                g.parse(source=PythonInputSource(_local_json_ld(data)), format="json-ld")
            elif rdf_format == "xml":
                _parse_rdf_xml(g, data)
            else:  # Turtle and N-Triples never dereference anything (@base only resolves)
                g.parse(data=data, format=rdf_format)
    except ValidationProblem:
        raise
    except Exception as exc:  # rdflib raises many types (SyntaxError, BadSyntax, SAX, JSON)
        raise ValidationProblem(f"malformed {rdf_format} RDF: {str(exc)[:300]}") from exc
    return g


def _local_json_ld(data: bytes | str) -> Any:
    """The JSON-LD document, refused if rdflib would load a context from a URL or file."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValidationProblem(f"malformed json-ld RDF: {str(exc)[:300]}") from exc
    # Every context rdflib fetches is a string in an @context (top level, on a node, or scoped
    # in a term definition) or an @import; contexts given as objects are used as they are.
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                refs = value if isinstance(value, list) else [value]
                remote = [v for v in refs if isinstance(v, str)] if key == "@context" else []
                if key == "@import":
                    remote = refs
                if remote:
                    raise ValidationProblem(
                        f"remote JSON-LD contexts are not loaded ({key} {str(remote[0])[:200]!r}); "
                        "put the context inline as a JSON object"
                    )
                stack.append(value)
    return document


# A DTD may declare entities that name namespaces (<!ENTITY xsd "http://…#">), which many RDF/XML
# files do. Nested entities are how "billion laughs" documents grow exponentially, so an entity's
# text may not refer to another one; flat ones can still multiply the text by length / 3, so
# their text is short and the text they add to the whole document is capped.
MAX_ENTITY_CHARS = 256


def _expansion_budget(data: bytes | str) -> int:
    return 4 * len(data) + 1_000_000


class _DoctypeChecked(Exception):
    """Raised by the DTD pre-pass to stop reading once nothing more needs checking."""


def _refuse_entities(reason: str) -> NoReturn:
    raise ValidationProblem(f"RDF/XML refused: {reason}")


def _check_entities(data: bytes | str) -> None:
    """Refuse a DTD that declares parameter, external, nested or long entities, or a document
    whose entity references would add more text than :func:`_expansion_budget`."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    entities: dict[str, int] = {}
    budget = _expansion_budget(data)
    added = 0

    def entity_decl(name: str, is_parameter: int, value: str | None, *_: object) -> None:
        if is_parameter:
            _refuse_entities(f"the DTD declares a parameter entity ({name!r})")
        if value is None:
            _refuse_entities(f"the DTD declares an external entity ({name!r})")
        if "&" in value or "%" in value:
            _refuse_entities(f"entity {name!r} refers to another entity (entity expansion)")
        if len(value) > MAX_ENTITY_CHARS:
            _refuse_entities(f"entity {name!r} is longer than {MAX_ENTITY_CHARS} characters")
        entities[name] = len(value)

    def start_element(name: str, attributes: list[str]) -> None:
        nonlocal added
        if not entities:
            raise _DoctypeChecked  # no DTD entities: the rest of the document cannot expand
        # Attribute values arrive expanded; entity references in text arrive unexpanded (to
        # `reference`), because a DefaultHandler is set.
        added += sum(len(a) for a in attributes)
        if added > budget:
            _refuse_entities("entity references expand the document too much")

    def reference(text: str) -> None:
        nonlocal added
        if text.startswith("&") and text.endswith(";") and text[1:-1] in entities:
            added += entities[text[1:-1]]
            if added > budget:
                _refuse_entities("entity references expand the document too much")

    parser.EntityDeclHandler = entity_decl
    parser.UnparsedEntityDeclHandler = lambda name, *_: _refuse_entities(
        f"the DTD declares an unparsed entity ({name!r})"
    )
    parser.ordered_attributes = True
    parser.StartElementHandler = start_element
    parser.DefaultHandler = reference
    try:
        parser.Parse(data, True)
    except _DoctypeChecked:
        return
    except expat.ExpatError as exc:
        raise ValidationProblem(f"malformed xml RDF: {exc}") from exc


class _JoinedText(sax_handler.ContentHandler):
    """Passes SAX events on, joining each run of character data into one call.

    expat reports text line by line and per entity reference, and rdflib's RDF/XML handler
    appends each piece to a string, which is quadratic: a 2 MB literal of short lines took
    minutes.
    """

    def __init__(self, inner: sax_handler.ContentHandler) -> None:
        super().__init__()
        self._inner = inner
        self._text: list[str] = []

    def _flush(self) -> None:
        if self._text:
            text = "".join(self._text)
            self._text.clear()
            self._inner.characters(text)

    def characters(self, content: str) -> None:
        self._text.append(content)

    def setDocumentLocator(self, locator: Any) -> None:  # noqa: N802 (SAX names)
        self._inner.setDocumentLocator(locator)

    def startDocument(self) -> None:  # noqa: N802
        self._inner.startDocument()

    def endDocument(self) -> None:  # noqa: N802
        self._flush()
        self._inner.endDocument()

    def startPrefixMapping(self, prefix: str | None, uri: str) -> None:  # noqa: N802
        self._flush()
        self._inner.startPrefixMapping(prefix, uri)

    def endPrefixMapping(self, prefix: str | None) -> None:  # noqa: N802
        self._flush()
        self._inner.endPrefixMapping(prefix)

    def startElementNS(self, name: Any, qname: Any, attrs: Any) -> None:  # noqa: N802
        self._flush()
        self._inner.startElementNS(name, qname, attrs)

    def endElementNS(self, name: Any, qname: Any) -> None:  # noqa: N802
        self._flush()
        self._inner.endElementNS(name, qname)

    def ignorableWhitespace(self, whitespace: str) -> None:  # noqa: N802
        self._flush()
        self._inner.ignorableWhitespace(whitespace)

    def processingInstruction(self, target: str, data: str) -> None:  # noqa: N802
        self._flush()
        self._inner.processingInstruction(target, data)

    def skippedEntity(self, name: str) -> None:  # noqa: N802
        self._flush()
        self._inner.skippedEntity(name)


def _parse_rdf_xml(g: Graph, data: bytes | str) -> None:
    """rdflib's RDF/XML parser (as ``Graph.parse`` runs it), made safe for untrusted input."""
    _check_entities(data)
    source = create_input_source(data=data, format="xml")
    reader = create_parser(source, g)
    # Python's defaults already; set so that no future default can read a DTD or entity file.
    reader.setFeature(sax_handler.feature_external_ges, False)
    reader.setFeature(sax_handler.feature_external_pes, False)
    rdfxml = cast(sax_handler.ContentHandler, reader.getContentHandler())  # an RDFXMLHandler
    reader.setContentHandler(_JoinedText(rdfxml))
    reader.parse(source)


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


@dataclass(frozen=True)
class Limits:
    """How big a graph one validation takes: SHACL time grows with both (about 7 ms per typed
    resource and 1 ms per other node on the hub's machine)."""

    max_triples: int
    max_resources: int  # subjects with an rdf:type: each is a focus node of some shape


def check_size(g: Graph, limits: Limits) -> None:
    """Refuse a graph larger than the limits (:class:`PayloadTooLarge`) before SHACL runs."""
    if len(g) > limits.max_triples:
        raise PayloadTooLarge(
            f"the graph has {len(g)} triples; one validation takes at most "
            f"{limits.max_triples} (TSUNAGU_DCAT_VALIDATE_MAX_TRIPLES). Split it, or run "
            "`tsunagu catalog validate FILE`",
            limit=limits.max_triples,
        )
    typed = len(set(g.subjects(RDF.type, None)))
    if typed > limits.max_resources:
        datasets = len(set(g.subjects(RDF.type, DCAT.Dataset)))
        raise PayloadTooLarge(
            f"the graph describes {typed} typed resources ({datasets} dcat:Dataset); one "
            f"validation takes at most {limits.max_resources} "
            "(TSUNAGU_DCAT_VALIDATE_MAX_RESOURCES). Split it, or run "
            "`tsunagu catalog validate FILE`",
            limit=limits.max_resources,
        )


def validate_rdf(
    data: bytes | str, rdf_format: str, *, recommended: bool = False, limits: Limits | None = None
) -> Report:
    """Parse and validate RDF; with ``limits``, a graph above them is refused unvalidated."""
    g = parse_rdf(data, rdf_format)
    if limits is not None:
        check_size(g, limits)
    return validate_graph(g, recommended=recommended)


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
