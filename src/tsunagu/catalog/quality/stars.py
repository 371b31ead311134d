"""Tim Berners-Lee's 5-star open data rating of a distribution, from its format and licence.

★ on the web under an open licence; ★★ structured (Excel rather than a scan); ★★★ in a
non-proprietary format (CSV rather than Excel); ★★★★ RDF with URIs for things; ★★★★★ linked to
other people's data. The fifth star needs the data's own links, which the metadata does not
show: a distribution gets it only when its format is RDF and the dataset links elsewhere
(``extras['links_to']`` set by the publisher).
"""

from __future__ import annotations

import unicodedata

STRUCTURED = frozenset({"CSV", "TSV", "XLS", "XLSX", "ODS", "JSON", "GEOJSON", "XML", "KML",
                        "SHP", "GML", "JSON_LD", "JSONLD", "RDF", "TTL", "TURTLE", "RDF/XML",
                        "NT", "N3", "PARQUET", "GTFS", "ZIP_CSV", "SPARQL"})  # fmt: skip
PROPRIETARY = frozenset({"XLS", "XLSX", "SHP"})
LINKED = frozenset({"RDF", "TTL", "TURTLE", "RDF/XML", "JSON_LD", "JSONLD", "NT", "N3", "SPARQL"})


def normalized_format(fmt: str) -> str:
    return unicodedata.normalize("NFKC", fmt).strip().upper().lstrip(".").replace("-", "_")


def stars(fmt: str, *, open_licence: bool, has_url: bool, links_out: bool = False) -> int:
    """0 to 5 stars; 0 when the data is not on the web under an open licence."""
    if not (open_licence and has_url):
        return 0
    code = normalized_format(fmt)
    if code not in STRUCTURED:
        return 1
    if code in PROPRIETARY:
        return 2
    if code not in LINKED:
        return 3
    return 5 if links_out else 4
