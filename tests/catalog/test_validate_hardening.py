"""POST /api/v1/dcat/validate on hostile input: it fetches nothing, expands no entity bombs and
refuses graphs too large to validate in a few seconds (fuzzing report findings A1, A5, A6)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tsunagu.catalog.shacl import Limits, parse_rdf, validate_rdf
from tsunagu.kernel import PayloadTooLarge, ValidationProblem

DCT_TITLE = "http://purl.org/dc/terms/title"
CONTEXT = {"@context": {"t": DCT_TITLE, "Dataset": "http://www.w3.org/ns/dcat#Dataset"}}
RDF_XML = (
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:dct="http://purl.org/dc/terms/" xmlns:dcat="http://www.w3.org/ns/dcat#">'
    '<dcat:Dataset rdf:about="http://x/d"><dct:title>{title}</dct:title></dcat:Dataset></rdf:RDF>'
)


class ContextServer:
    """A loopback HTTP server that serves a JSON-LD context and records every request."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append(self.path)
                body = json.dumps(CONTEXT).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/ld+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture
def context_server() -> Iterator[ContextServer]:
    server = ContextServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)


def _post(client: TestClient, body: str | bytes, content_type: str) -> Any:
    return client.post(
        "/api/v1/dcat/validate", content=body, headers={"content-type": content_type}
    )


def _json_ld(client: TestClient, document: Any) -> Any:
    return _post(client, json.dumps(document), "application/ld+json")


# A1: JSON-LD contexts are never loaded from a URL or a file.


@pytest.mark.parametrize(
    "shape",
    ["top-level", "in a list", "on a nested node", "scoped in a term", "@import"],
)
def test_remote_json_ld_context_is_refused_and_not_fetched(
    client: TestClient, context_server: ContextServer, shape: str
) -> None:
    url = f"{context_server.url}/ctx.jsonld"
    document: dict[str, Any] = {
        "top-level": {"@context": url, "@id": "http://x/d", "t": "x"},
        "in a list": {"@context": [{"dct": "http://purl.org/dc/terms/"}, url], "@id": "http://x/d"},
        "on a nested node": {"@id": "http://x/d", "http://x/p": {"@context": url, "t": "x"}},
        "scoped in a term": {"@context": {"p": {"@id": "http://x/p", "@context": url}},
                             "@id": "http://x/d", "p": {"t": "x"}},
        "@import": {"@context": {"@version": 1.1, "@import": url}, "@id": "http://x/d", "t": "x"},
    }[shape]  # fmt: skip
    res = _json_ld(client, document)
    assert res.status_code == 422, res.text
    assert res.headers["content-type"].startswith("application/problem+json")
    assert "remote JSON-LD contexts are not loaded" in res.json()["detail"]
    assert context_server.requests == []


def test_file_json_ld_context_is_not_read(client: TestClient, tmp_path: Path) -> None:
    context_file = tmp_path / "ctx.json"
    context_file.write_text(json.dumps(CONTEXT))
    res = _json_ld(client, {"@context": context_file.as_uri(), "@id": "http://x/d", "t": "x"})
    assert res.status_code == 422
    assert "remote JSON-LD contexts are not loaded" in res.json()["detail"]


def test_inline_json_ld_context_still_works(client: TestClient) -> None:
    res = _json_ld(client, {**CONTEXT, "@id": "http://x/d", "@type": "Dataset", "t": "x"})
    assert res.status_code == 200, res.text
    assert res.json()["datasets"] == 1


def test_turtle_and_rdf_xml_fetch_nothing(
    client: TestClient, context_server: ContextServer
) -> None:
    url = context_server.url
    turtle = (
        f"@base <{url}/base/> . @prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        f"<d> a <http://www.w3.org/ns/dcat#Dataset> ; owl:imports <{url}/onto.ttl> ."
    )
    assert _post(client, turtle, "text/turtle").status_code == 200
    external_dtd = f'<?xml version="1.0"?><!DOCTYPE rdf:RDF SYSTEM "{url}/rdf.dtd">' + RDF_XML
    assert _post(client, external_dtd.format(title="x"), "application/rdf+xml").status_code == 200
    external_entity = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "{url}/e.xml">]>'
                       + RDF_XML.format(title="&e;"))  # fmt: skip
    assert _post(client, external_entity, "application/rdf+xml").status_code == 422
    assert context_server.requests == []


# A5: entity expansion in RDF/XML.


def _laughs(levels: int) -> str:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(levels)
    )
    return f'<?xml version="1.0"?><!DOCTYPE r [{entities}]>' + RDF_XML.format(
        title=f"&{chr(97 + levels)};"
    )


@pytest.mark.parametrize(
    ("name", "document"),
    [
        # Four levels keep the unprotected parse fast; the fuzzer's eight took minutes.
        ("nested", _laughs(4)),
        ("nested through a character reference",
         '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&#38;a;&#38;a;">]>'
         + RDF_XML.format(title="&b;")),
        ("parameter entity", '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p "x">]>'
         + RDF_XML.format(title="x")),
        ("flat entity referenced too often",
         f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "{"a" * 250}">]>'
         + RDF_XML.format(title="&a;" * 10_000)),
    ],
)  # fmt: skip
def test_rdf_xml_entity_expansion_is_refused(client: TestClient, name: str, document: str) -> None:
    res = _post(client, document, "application/rdf+xml")
    assert res.status_code == 422, name
    assert res.headers["content-type"].startswith("application/problem+json")
    assert "RDF/XML refused" in res.json()["detail"]


def test_rdf_xml_namespace_entities_still_work(client: TestClient) -> None:
    document = (
        '<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY dcat "http://www.w3.org/ns/dcat#">'
        '<!ENTITY xsd "http://www.w3.org/2001/XMLSchema#">]>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:dct="http://purl.org/dc/terms/" xmlns:dcat="&dcat;">'
        '<dcat:Dataset rdf:about="http://x/d"><dct:title>Title &amp; &dcat;</dct:title>'
        '<dct:issued rdf:datatype="&xsd;date">2024-01-01</dct:issued></dcat:Dataset></rdf:RDF>'
    )
    res = _post(client, document, "application/rdf+xml")
    assert res.status_code == 200, res.text
    assert res.json()["datasets"] == 1
    g = parse_rdf(document, "xml")
    titles = {str(o) for o in g.objects(None, None) if "Title" in str(o)}
    assert titles == {"Title & http://www.w3.org/ns/dcat#"}


def test_long_rdf_xml_literal_parses_in_linear_time() -> None:
    # rdflib appends every piece of text expat reports (one per line) to a string: 300,000
    # short lines took about 7 s that way; joined once it is a fraction of a second.
    document = RDF_XML.format(title="a\n" * 300_000)
    started = time.monotonic()
    g = parse_rdf(document, "xml")
    assert time.monotonic() - started < 2
    assert len(g) == 2


# A6: graph size limits.


def test_validation_refuses_more_typed_resources_than_the_limit(client: TestClient) -> None:
    turtle = "\n".join(
        f"<http://x/d{i}> a <http://www.w3.org/ns/dcat#Dataset> ." for i in range(151)
    )
    res = _post(client, turtle, "text/turtle")
    assert res.status_code == 413
    assert res.headers["content-type"].startswith("application/problem+json")
    problem = res.json()
    assert problem["limit"] == 150
    assert "TSUNAGU_DCAT_VALIDATE_MAX_RESOURCES" in problem["detail"]
    assert "151 typed resources (151 dcat:Dataset)" in problem["detail"]


def test_validation_refuses_more_triples_than_the_limit(client: TestClient) -> None:
    turtle = "\n".join(f'<http://x/d> <{DCT_TITLE}> "t{i}" .' for i in range(2001))
    res = _post(client, turtle, "text/turtle")
    assert res.status_code == 413
    assert res.json()["limit"] == 2000
    assert "TSUNAGU_DCAT_VALIDATE_MAX_TRIPLES" in res.json()["detail"]


def test_limits_allow_a_graph_at_the_limit() -> None:
    turtle = "\n".join(f"<http://x/d{i}> a <http://www.w3.org/ns/dcat#Dataset> ." for i in range(3))
    limits = Limits(max_triples=3, max_resources=3)
    assert validate_rdf(turtle, "turtle", limits=limits).datasets == 3
    with pytest.raises(PayloadTooLarge):
        validate_rdf(turtle, "turtle", limits=Limits(max_triples=3, max_resources=2))
    with pytest.raises(PayloadTooLarge):
        validate_rdf(turtle, "turtle", limits=Limits(max_triples=2, max_resources=3))


def test_malformed_json_ld_is_still_a_validation_problem() -> None:
    with pytest.raises(ValidationProblem, match="malformed json-ld"):
        parse_rdf("[" * 100_000, "json-ld")
