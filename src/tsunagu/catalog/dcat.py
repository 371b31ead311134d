"""Catalog records as DCAT-AP 3.0.1 RDF (https://semiceu.github.io/DCAT-AP/releases/3.0.1/).

URIs: the catalog is ``{base}/catalog``, a dataset ``{base}/dataset/{uuid}``, its distributions
``{base}/dataset/{uuid}/resource/{uuid}``, an organization ``{base}/organization/{name}`` and a
data service ``{base}/data-service/{uuid}``. Vocabulary values (licence, format, media type,
theme, frequency, language, place) are typed in the graph (``dct:LicenseDocument``,
``dct:MediaTypeOrExtent`` …) because the DCAT-AP SHACL checks the class of every range.
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote, urlsplit

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, SKOS, XSD

from tsunagu.accounts import Organization

from . import dcat_vocab as vocab
from .models import DataService, Dataset, Distribution

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
DCAT_VERSION = URIRef(str(DCAT) + "version")  # DCAT 3; rdflib's closed DCAT namespace lacks it
PREFIXES = {
    "dcat": DCAT, "dct": DCTERMS, "foaf": FOAF, "vcard": VCARD, "skos": SKOS, "spdx": SPDX,
    "hydra": HYDRA, "owl": OWL, "xsd": XSD, "adms": ADMS,
}  # fmt: skip
_CHECKSUM_ALGORITHMS = {"sha1": "checksumAlgorithm_sha1", "sha-1": "checksumAlgorithm_sha1",
                        "sha256": "checksumAlgorithm_sha256", "sha-256": "checksumAlgorithm_sha256",
                        "md5": "checksumAlgorithm_md5"}  # fmt: skip


def new_graph() -> Graph:
    """An empty graph with the export's prefixes bound."""
    # SimpleMemory: exports only add and iterate; the default store's context indexes cost ~30%.
    g = Graph(store="SimpleMemory", bind_namespaces="core")
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    return g


def iri(url: str) -> URIRef | None:
    """A URL as an IRI, percent-encoding what an IRI may not hold; None if it is not absolute."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ftp", "mailto") or not (parts.netloc or parts.path):
        return None
    # Keep reserved characters and existing escapes; encode spaces, quotes, <>, {} and the like.
    return URIRef(quote(url, safe=":/?#[]@!$&'()*+,;=%~"))


def _text(g: Graph, subject: URIRef | BNode, pred: URIRef, value: str, lang: str) -> None:
    if value and value.strip():
        g.add((subject, pred, Literal(value.strip(), lang=lang)))


def _when(g: Graph, subject: URIRef | BNode, pred: URIRef, value: datetime | None) -> None:
    if value is not None:
        g.add((subject, pred, Literal(value.replace(microsecond=0).isoformat(),
                                      datatype=XSD.dateTime)))  # fmt: skip


def _day(g: Graph, subject: BNode, pred: URIRef, value: date | None) -> None:
    if value is not None:
        g.add((subject, pred, Literal(value.isoformat(), datatype=XSD.date)))


def _typed(g: Graph, uri: str, cls: URIRef) -> URIRef:
    node = URIRef(uri)
    g.add((node, RDF.type, cls))
    return node


def _concept(g: Graph, uri: str, label: str, scheme: str, scheme_title: str) -> URIRef:
    node = _typed(g, uri, SKOS.Concept)
    g.add((node, SKOS.prefLabel, Literal(label, lang="en")))
    scheme_node = _typed(g, scheme, SKOS.ConceptScheme)
    g.add((scheme_node, DCTERMS.title, Literal(scheme_title, lang="en")))
    g.add((node, SKOS.inScheme, scheme_node))
    return node


def organization_uri(base: str, org: Organization) -> URIRef:
    return URIRef(f"{base}/organization/{quote(org.name)}")


def add_agent(g: Graph, base: str, org: Organization) -> URIRef:
    """An organization as foaf:Agent (foaf:Organization), with its 法人番号 as dct:identifier."""
    node = organization_uri(base, org)
    g.add((node, RDF.type, FOAF.Agent))
    g.add((node, RDF.type, FOAF.Organization))
    _text(g, node, FOAF.name, org.title, "ja")
    _text(g, node, FOAF.name, org.title_en, "en")
    if org.corporate_number:
        g.add((node, DCTERMS.identifier, Literal(org.corporate_number)))
    homepage = iri(org.url)
    if homepage is not None:
        g.add((node, FOAF.homepage, homepage))
        g.add((homepage, RDF.type, FOAF.Document))
    if org.lg_code:  # a municipality or prefecture: ADMS publisher type "local authority"
        kind = _concept(g, vocab.ADMS_PUBLISHER_TYPE + "LocalAuthority", "Local Authority",
                        "http://purl.org/adms/publishertype/1.0", "Publisher Type")  # fmt: skip
        g.add((node, DCTERMS.type, kind))
    return node


def _contact(g: Graph, ds: Dataset) -> BNode:
    """dcat:contactPoint as vcard:Kind: the maintainer, else the author, else the publisher."""
    node = BNode()
    g.add((node, RDF.type, VCARD.Kind))
    name = ds.maintainer or ds.author or ds.organization.title
    email = ds.maintainer_email or ds.author_email
    g.add((node, VCARD.fn, Literal(name)))
    if email and "@" in email and " " not in email.strip():
        g.add((node, VCARD.hasEmail, URIRef("mailto:" + quote(email.strip(), safe="@+."))))
    url = iri(ds.organization.url)
    if url is not None and not email:
        g.add((node, VCARD.hasURL, url))
    return node


def _license(g: Graph, ds: Dataset) -> URIRef | None:
    lic = ds.license
    if lic is None:
        return None
    node = iri(lic.eu_uri) or iri(lic.url)
    if node is None:
        return None
    g.add((node, RDF.type, DCTERMS.LicenseDocument))
    return node


def add_distribution(g: Graph, base: str, ds: Dataset, res: Distribution) -> URIRef:
    node = URIRef(f"{base}/dataset/{ds.id}/resource/{quote(res.id)}")
    g.add((node, RDF.type, DCAT.Distribution))
    # accessURL is mandatory: the file itself, else the dataset's landing page, else our page.
    access = (
        iri(res.url) or iri(res.download_url) or iri(ds.url) or URIRef(f"{base}/dataset/{ds.id}")
    )
    g.add((node, DCAT.accessURL, access))
    download = iri(res.download_url)
    if download is not None:
        g.add((node, DCAT.downloadURL, download))
    _text(g, node, DCTERMS.title, res.name, "ja")
    _text(g, node, DCTERMS.description, res.description, "ja")
    fmt = vocab.file_type_uri(res.format) if res.format else None
    if fmt is not None:
        g.add((node, DCTERMS.format, _typed(g, fmt, DCTERMS.MediaTypeOrExtent)))
    media = vocab.media_type_uri(res.media_type, res.format)
    if media is not None:
        g.add((node, DCAT.mediaType, _typed(g, media, DCTERMS.MediaType)))
    if res.byte_size is not None:
        g.add((node, DCAT.byteSize, Literal(res.byte_size, datatype=XSD.nonNegativeInteger)))
    algorithm = _CHECKSUM_ALGORITHMS.get(res.checksum_algorithm.strip().lower())
    if res.checksum and algorithm:
        checksum = BNode()
        g.add((checksum, RDF.type, SPDX.Checksum))
        g.add((checksum, SPDX.algorithm, _typed(g, str(SPDX[algorithm]), SPDX.ChecksumAlgorithm)))
        g.add((checksum, SPDX.checksumValue, Literal(res.checksum, datatype=XSD.hexBinary)))
        g.add((node, SPDX.checksum, checksum))
    lang = vocab.language_uri(res.language) if res.language else None
    if lang is not None:
        g.add((node, DCTERMS.language, _typed(g, lang, DCTERMS.LinguisticSystem)))
    licence = _license(g, ds)
    if licence is not None:
        g.add((node, DCTERMS.license, licence))
    _when(g, node, DCTERMS.issued, res.created)
    _when(g, node, DCTERMS.modified, res.modified)
    return node


def add_service(g: Graph, base: str, service: DataService, dataset: URIRef | None) -> URIRef:
    """A data service (dcat:DataService): endpoint URL, OpenAPI description, served dataset."""
    node = URIRef(f"{base}/data-service/{service.id}")
    g.add((node, RDF.type, DCAT.DataService))
    _text(g, node, DCTERMS.title, service.title, "ja")
    _text(g, node, DCTERMS.description, service.description, "ja")
    endpoint = iri(service.endpoint_url) or URIRef(f"{base}/data-service/{service.id}")
    g.add((node, DCAT.endpointURL, endpoint))
    description = iri(service.endpoint_description)
    if description is not None:
        g.add((node, DCAT.endpointDescription, description))
    if dataset is not None:
        g.add((node, DCAT.servesDataset, dataset))
    g.add((node, DCTERMS.publisher, add_agent(g, base, service.organization)))
    return node


def dataset_uri(base: str, ds: Dataset) -> URIRef:
    return URIRef(f"{base}/dataset/{ds.id}")


def add_dataset(g: Graph, base: str, ds: Dataset) -> URIRef:
    """One dataset with its distributions, publisher, contact point and data services."""
    node = dataset_uri(base, ds)
    g.add((node, RDF.type, DCAT.Dataset))
    g.add((node, DCTERMS.identifier, Literal(ds.id)))
    _text(g, node, DCTERMS.title, ds.title, "ja")
    _text(g, node, DCTERMS.title, ds.title_en, "en")
    # dct:description is mandatory; a record without notes repeats its title rather than fail.
    _text(g, node, DCTERMS.description, ds.notes or ds.title, "ja")
    _text(g, node, DCTERMS.description, ds.notes_en, "en")
    g.add((node, DCTERMS.publisher, add_agent(g, base, ds.organization)))
    g.add((node, DCAT.contactPoint, _contact(g, ds)))
    for tag in ds.tags:
        g.add((node, DCAT.keyword, Literal(tag.name, lang="ja")))
    for group in ds.groups:
        for code in vocab.theme_codes(f"{group.title} {group.title_en}"):
            theme = _concept(g, f"{vocab.DATA_THEME}/{code}", vocab.THEME_LABELS[code],
                             vocab.DATA_THEME, "Data theme")  # fmt: skip
            g.add((node, DCAT.theme, theme))
    for place in ds.municipalities:
        uri = vocab.municipality_uri(place.lg_code)
        if uri is not None:
            location = _typed(g, uri, DCTERMS.Location)
            g.add((location, SKOS.notation, Literal(place.lg_code)))
            g.add((node, DCTERMS.spatial, location))
    if ds.temporal_start or ds.temporal_end:
        period = BNode()
        g.add((period, RDF.type, DCTERMS.PeriodOfTime))
        _day(g, period, DCAT.startDate, ds.temporal_start)
        _day(g, period, DCAT.endDate, ds.temporal_end)
        g.add((node, DCTERMS.temporal, period))
    _when(g, node, DCTERMS.issued, ds.issued or ds.metadata_created)
    _when(g, node, DCTERMS.modified, ds.modified or ds.metadata_modified)
    landing = iri(ds.url)
    if landing is not None:
        g.add((node, DCAT.landingPage, landing))
        g.add((landing, RDF.type, FOAF.Document))
    if ds.version:
        g.add((node, DCAT_VERSION, Literal(ds.version)))
    frequency = vocab.frequency_uri(ds.frequency)
    if frequency is not None:
        g.add((node, DCTERMS.accrualPeriodicity, _typed(g, frequency, DCTERMS.Frequency)))
    for res in ds.distributions:
        g.add((node, DCAT.distribution, add_distribution(g, base, ds, res)))
    for service in ds.services:
        add_service(g, base, service, node)
    return node


def catalog_uri(base: str) -> URIRef:
    return URIRef(f"{base}/catalog")


def add_catalog(g: Graph, base: str, publisher: str, modified: datetime | None) -> URIRef:
    """The catalog resource itself (its datasets are linked by the caller, page by page)."""
    node = catalog_uri(base)
    g.add((node, RDF.type, DCAT.Catalog))
    g.add((node, DCTERMS.title, Literal("tsunagu データカタログ", lang="ja")))
    g.add((node, DCTERMS.title, Literal("tsunagu data catalog", lang="en")))
    g.add((node, DCTERMS.description, Literal(
        "国・自治体・企業のデータセットとAPIのカタログ（DCAT-AP 3.0.1）", lang="ja")))  # fmt: skip
    g.add(
        (
            node,
            DCTERMS.description,
            Literal(
                "Datasets and APIs of Japanese public bodies and companies (DCAT-AP 3.0.1)",
                lang="en",
            ),
        )
    )
    agent = URIRef(f"{base}/#publisher")
    g.add((agent, RDF.type, FOAF.Agent))
    g.add((agent, FOAF.name, Literal(publisher)))
    g.add((node, DCTERMS.publisher, agent))
    home = URIRef(f"{base}/")
    g.add((node, FOAF.homepage, home))
    g.add((home, RDF.type, FOAF.Document))
    g.add((node, DCTERMS.language,
           _typed(g, vocab.LANGUAGE + "JPN", DCTERMS.LinguisticSystem)))  # fmt: skip
    g.add((node, DCTERMS.spatial, _typed(g, vocab.COUNTRY + "JPN", DCTERMS.Location)))
    g.add((node, DCTERMS.license,
           _typed(g, vocab.EU + "licence/CC_BY_4_0", DCTERMS.LicenseDocument)))  # fmt: skip
    scheme = _typed(g, vocab.DATA_THEME, SKOS.ConceptScheme)
    g.add((scheme, DCTERMS.title, Literal("Data theme", lang="en")))
    g.add((node, DCAT.themeTaxonomy, scheme))
    _when(g, node, DCTERMS.modified, modified)
    return node


def add_page_view(
    g: Graph, base_path: str, page: int, pages: int, total: int, page_size: int
) -> URIRef:
    """Hydra paging of the catalog (hydra:PartialCollectionView, as ckanext-dcat does)."""
    node = URIRef(f"{base_path}?page={page}")
    g.add((node, RDF.type, HYDRA.PartialCollectionView))
    g.add((node, HYDRA.totalItems, Literal(total, datatype=XSD.integer)))
    g.add((node, HYDRA.itemsPerPage, Literal(page_size, datatype=XSD.integer)))
    g.add((node, HYDRA.first, Literal(f"{base_path}?page=1")))
    g.add((node, HYDRA.last, Literal(f"{base_path}?page={pages}")))
    if page > 1:
        g.add((node, HYDRA.previous, Literal(f"{base_path}?page={page - 1}")))
    if page < pages:
        g.add((node, HYDRA.next, Literal(f"{base_path}?page={page + 1}")))
    return node
