"""Every request body shares one base (tsunagu.kernel.InputModel): a NUL character anywhere in
it, however deeply nested, is a validation error naming where — PostgreSQL's text cannot hold
one (the statement fails: a 500) and SQLite would store it."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from tsunagu.kernel import InputModel, unfit_text
from tsunagu.ledger import AccessRecordIn
from tsunagu.mesh import api as mesh_api


def models_in(annotation: Any) -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.add(annotation)
    for argument in typing.get_args(annotation):
        found |= models_in(argument)
    return found


def body_models(app: FastAPI) -> dict[str, set[type[BaseModel]]]:
    """The models of the JSON bodies FastAPI parses, by route."""
    out: dict[str, set[type[BaseModel]]] = {}
    for route in iter_route_contexts(app.routes):  # into included routers too
        if isinstance(route.original_route, APIRoute):
            for param in route.dependant.body_params:
                models = models_in(param.field_info.annotation)
                if models:
                    name = f"{sorted(route.methods or ())} {route.path_format}"
                    out.setdefault(name, set()).update(models)
    return out


def test_every_body_model_of_the_hub_and_a_node_is_an_input_model(app: FastAPI) -> None:
    node = FastAPI()
    node.include_router(mesh_api.router)  # the node's own management API
    seen = {**body_models(app), **body_models(node)}
    assert len(seen) >= 10, seen  # the scan finds the bodies at all
    for route, models in seen.items():
        for model in models:
            assert issubclass(model, InputModel), f"{route}: {model.__name__}"


def test_unfit_text_names_the_place() -> None:
    nul, surrogate = "a NUL character", "an unpaired surrogate (not Unicode text)"
    assert unfit_text({"a": "x", "b": [1, {"c": "d\x00"}]}) == ("b[1].c", nul)
    assert unfit_text({"k\x00": 1}) == ("k?", nul)
    assert unfit_text("a\x00") == ("the value", nul)
    assert unfit_text({"a": ["ok", "東京\ud800"]}) == ("a[1]", surrogate)
    assert unfit_text({"\udc80": "x"}) == ("?", surrogate)
    assert unfit_text({"a": ["ok", {"b": None}], "c": 3.5, "d": "😀 東京"}) is None
    deep: list[Any] = []
    inner = deep
    for _ in range(5000):  # deeper than the interpreter's recursion limit
        inner.append([])
        inner = inner[0]
    inner.append("x\x00")
    assert (unfit_text(deep) or ("", ""))[0].endswith("[0]")


def test_a_hand_validated_body_is_covered_too() -> None:
    """The hub validates a node's access record itself (the signature covers the bytes)."""
    record = {
        "accessed_at": "2026-11-27T00:00:00",
        "requester": {"id": "JP/GOV/8000012010038", "name": "架空省"},
        "provider": {"id": "JP/MUN/8000020302015", "name": "架空市\x00"},
        "pseudonym": "p",
        "data_items": ["name"],
        "purpose": "test",
        "legal_basis": "415AC0000000057#Art1",
        "case_id": "c",
        "message_id": "m",
    }
    with pytest.raises(ValidationError, match=r"provider\.name contains a NUL character"):
        AccessRecordIn.model_validate(record)


def test_a_lone_surrogate_in_a_body_is_a_422_not_a_cut_off_answer(client: TestClient) -> None:
    """JSON can carry "\\ud800", which is no Unicode text: the geocoder answered 200 and then
    failed to encode its streamed answer (cut off, an error in the log)."""
    body = '{"addresses": ["東京都千代田区", "東京都\\ud800千代田区"]}'
    answer = client.post(
        "/api/v1/address/geocode", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert "addresses[1] contains an unpaired surrogate" in answer.text


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"addresses": ["東京都千代田区", "東京都\x00千代田区"]}, "addresses[1]"),
        ({"addresses": ["東京都千代田区"], "target": "all\x00"}, "target"),
    ],
)
def test_a_nul_in_a_geocoding_batch_is_a_422(
    client: TestClient, body: dict[str, Any], where: str
) -> None:
    answer = client.post("/api/v1/address/geocode", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert f"{where} contains a NUL character" in answer.text


@pytest.mark.parametrize(
    ("module", "name", "valid"),
    [
        ("tsunagu.catalog.ckan_records", "NAME_RE", "tokyo-population"),
        ("tsunagu.accounts.services", "NAME_RE", "test-org"),
        ("tsunagu.catalog.dcat_vocab", "_MEDIA_TYPE_RE", "text/csv"),
        ("tsunagu.catalog.versions.services", "_DATE", "2026-11-27"),
        ("tsunagu.web.pages", "_SAFE_NEXT", "/dataset"),
        ("tsunagu.web.search_view", "_PAGE_RE", "12"),
        ("tsunagu.registries.address.postal", "POSTAL_RE", "6408511"),
        ("tsunagu.kernel.events", "TOPIC_RE", "corporation.record.renamed"),
        ("tsunagu.mesh.services", "_CODE", "basic4"),
        ("tsunagu.trust.ca", "_SUBSYSTEM", "tax"),
    ],
)
def test_identifier_patterns_refuse_a_trailing_line_break(
    module: str, name: str, valid: str
) -> None:
    """In Python's re, '$' also matches before a final newline: 'name\\n' passed as a name (a
    stored identifier, a topic, a redirect target). The patterns end in '\\Z'."""
    import importlib

    pattern = getattr(importlib.import_module(module), name)
    assert pattern.match(valid)
    assert not pattern.match(valid + "\n")
