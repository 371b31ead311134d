"""The data.europa.eu Metadata Quality Assessment (MQA) of a dataset, an organization and the
catalog: 23 indicators in five dimensions, 405 points at most.

Indicators, points and ratings are ``data/mqa-indicators.csv`` and ``data/mqa-ratings.csv``.
Each dataset is scored on its DCAT-AP export (what other portals harvest): a dataset-level
indicator earns its points when the property is there; a distribution-level one earns
points x the share of distributions that pass, except the Interoperability indicators, where
only the dataset's best-scoring distribution counts. Accessibility uses the URL checks the
background job stored (an unchecked URL does not pass). An organization's or the catalog's
score per indicator is points x the share of its datasets that pass, i.e. the mean.
"""

from __future__ import annotations

import csv
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from rdflib import Graph, URIRef
from rdflib.compare import to_isomorphic
from rdflib.namespace import DCAT, DCTERMS, RDF

from ..dcat import add_dataset, new_graph
from ..dcat_vocab import FILE_TYPE, IANA
from ..models import Dataset
from ..shacl import validate_graph


@dataclass(frozen=True)
class Indicator:
    dimension: str
    name: str
    metric: str  # the piveau DQV metric name, our key
    max_points: int
    counted_on: str  # dataset | distribution


def _data(name: str) -> str:
    return resources.files(__package__).joinpath(f"data/{name}").read_text(encoding="utf-8")


@cache
def indicators() -> tuple[Indicator, ...]:
    return tuple(
        Indicator(
            r["dimension"],
            r["indicator"],
            r["piveau_dqv_metric"],
            int(r["max_points"]),
            r["counted_on"],
        )
        for r in csv.DictReader(_data("mqa-indicators.csv").splitlines())
    )


@cache
def ratings() -> tuple[tuple[str, int, int], ...]:
    return tuple(
        (r["rating"], int(r["min_points"]), int(r["max_points"]))
        for r in csv.DictReader(_data("mqa-ratings.csv").splitlines())
    )


MAX_POINTS = 405


def rating(points: float) -> str:
    """Excellent / Good / Sufficient / Bad (the bands of mqa-ratings.csv)."""
    whole = round(points)
    for name, low, high in ratings():
        if low <= whole <= high:
            return name
    return ratings()[-1][0]


@cache
def _uris(name: str, column: int = 0) -> frozenset[str]:
    return frozenset(
        row[column] for row in csv.reader(_data(name).splitlines()) if len(row) > column
    )


@cache
def _file_type_codes(name: str) -> frozenset[str]:
    return frozenset(u.rsplit("/", 1)[-1] for u in _uris(name))


def _licence_known(uri: str) -> bool:
    return uri in _uris("licenses.csv", 0) or uri in _uris("licenses.csv", 2)


@dataclass
class Score:
    """Points per indicator (metric name) and their sum."""

    points: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return round(sum(self.points.values()), 1)

    @property
    def rating(self) -> str:
        return rating(self.total)

    def by_dimension(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for ind in indicators():
            out[ind.dimension] = round(
                out.get(ind.dimension, 0) + self.points.get(ind.metric, 0), 1
            )
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "points": self.total, "max_points": MAX_POINTS, "rating": self.rating,
            "dimensions": self.by_dimension(),
            "indicators": [
                {"dimension": i.dimension, "indicator": i.name, "metric": i.metric,
                 "points": round(self.points.get(i.metric, 0), 1), "max_points": i.max_points}
                for i in indicators()
            ],
        }  # fmt: skip


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _distribution_checks(
    g: Graph, dist: URIRef, url_status: Callable[[str], int | None]
) -> dict[str, bool]:
    def one(pred: URIRef) -> str | None:
        value = g.value(dist, pred)
        return str(value) if value is not None else None

    fmt, media, access = one(DCTERMS.format), one(DCAT.mediaType), one(DCAT.accessURL)
    download = one(DCAT.downloadURL)
    licence = one(DCTERMS.license)
    code = fmt.rsplit("/", 1)[-1] if fmt and fmt.startswith(FILE_TYPE) else ""
    return {
        "accessUrlStatusCode": access is not None and _ok(url_status(access)),
        "downloadUrlAvailability": download is not None,
        "downloadUrlStatusCode": download is not None and _ok(url_status(download)),
        "formatAvailability": fmt is not None,
        "mediaTypeAvailability": media is not None,
        "formatMediaTypeVocabularyAlignment": bool(code) or bool(media and media.startswith(IANA)),
        "formatMediaTypeNonProprietary": code in _file_type_codes("non-proprietary.csv"),
        "formatMediaTypeMachineInterpretable": code in _file_type_codes("machine-readable.csv"),
        "licenceAvailability": licence is not None,
        "knownLicence": licence is not None and _licence_known(licence),
        "rightsAvailability": one(DCTERMS.rights) is not None,
        "byteSizeAvailability": one(DCAT.byteSize) is not None,
    }


class _Verdicts:
    """SHACL verdicts by graph: the same dataset export validates the same way every time.

    SHACL is most of a score's cost (about 2-3 ms per distribution; a dataset may have 2,000),
    and the quality page and API score a dataset on every request, without a token. The key is
    rdflib's canonical digest of the graph (blank nodes included), about a twentieth of the
    validation, so a changed dataset is validated again and an unchanged one never is.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._found: OrderedDict[int, bool] = OrderedDict()
        self._lock = threading.Lock()

    def conforms(self, g: Graph) -> bool:
        key = to_isomorphic(g).graph_digest()  # type: ignore[no-untyped-call] # rdflib: untyped
        with self._lock:
            if key in self._found:
                self._found.move_to_end(key)
                return self._found[key]
        full = Graph()  # pyshacl needs a context-aware store, not SimpleMemory
        for triple in g:
            full.add(triple)
        verdict = validate_graph(full).conforms
        with self._lock:
            self._found[key] = verdict
            while len(self._found) > self.size:
                self._found.popitem(last=False)
        return verdict


_verdicts = _Verdicts()


def _conforms(g: Graph) -> bool:
    """DCAT-AP SHACL conformance of a dataset's export graph."""
    return _verdicts.conforms(g)


def score_dataset(
    ds: Dataset, url_status: Callable[[str], int | None], *, base: str = "http://localhost",
    shacl: bool = True,
) -> Score:  # fmt: skip
    """The MQA score of one dataset on its DCAT-AP export."""
    g = new_graph()
    node = add_dataset(g, base, ds)
    by_metric = {i.metric: i for i in indicators()}
    points: dict[str, float] = {}

    def has(pred: URIRef) -> bool:
        return g.value(node, pred) is not None

    access_right = g.value(node, DCTERMS.accessRights)
    dataset_checks = {
        "keywordAvailability": has(DCAT.keyword),
        "categoryAvailability": has(DCAT.theme),
        "spatialAvailability": has(DCTERMS.spatial),
        "temporalAvailability": has(DCTERMS.temporal),
        "accessRightsAvailability": access_right is not None,
        "accessRightsVocabularyAlignment": str(access_right) in _uris("access-right.csv"),
        "contactPointAvailability": has(DCAT.contactPoint),
        "publisherAvailability": has(DCTERMS.publisher),
        "dateIssuedAvailability": has(DCTERMS.issued),
        "dateModifiedAvailability": has(DCTERMS.modified),
        "dcatApCompliance": bool(shacl) and _conforms(g),
    }
    for metric, passed in dataset_checks.items():
        points[metric] = by_metric[metric].max_points if passed else 0.0
    dists = [d for d in g.objects(node, DCAT.distribution) if isinstance(d, URIRef)]
    dists = [d for d in dists if (d, RDF.type, DCAT.Distribution) in g]
    checks = [_distribution_checks(g, d, url_status) for d in dists]
    interop = [i.metric for i in indicators() if i.dimension == "Interoperability"
               and i.counted_on == "distribution"]  # fmt: skip
    best = max(
        checks, key=lambda c: sum(by_metric[m].max_points for m in interop if c[m]), default=None
    )
    for ind in indicators():
        if ind.counted_on != "distribution":
            continue
        if ind.metric in interop:
            share = 1.0 if best and best[ind.metric] else 0.0
        elif ind.metric == "downloadUrlStatusCode":
            with_download = [c for c in checks if c["downloadUrlAvailability"]]
            share = _share(c[ind.metric] for c in with_download)
        else:
            share = _share(c[ind.metric] for c in checks)
        points[ind.metric] = ind.max_points * share
    return Score(points)


def _share(values: Iterable[bool]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def mean_score(scores: Iterable[Score]) -> Score:
    """An organization's or the catalog's score: per indicator, the mean over its datasets."""
    items = list(scores)
    if not items:
        return Score({i.metric: 0.0 for i in indicators()})
    return Score(
        {i.metric: sum(s.points.get(i.metric, 0) for s in items) / len(items) for i in indicators()}
    )


def status_lookup(statuses: Mapping[str, int | None]) -> Callable[[str], int | None]:
    return lambda url: statuses.get(url)
