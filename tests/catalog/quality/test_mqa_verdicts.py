"""The MQA's DCAT-AP compliance check remembers verdicts by graph, and only by graph."""

from __future__ import annotations

from typing import Any

import pytest
from rdflib import Graph
from rdflib.namespace import DCAT, DCTERMS, RDF
from sqlalchemy.orm import Session

from tests.catalog.conftest import sample_dataset
from tsunagu.accounts import Caller
from tsunagu.catalog import create_dataset, parse_dataset
from tsunagu.catalog.dcat import add_dataset, new_graph
from tsunagu.catalog.quality import mqa


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts real SHACL runs (the validator itself still runs) over a fresh verdict store."""
    runs: list[int] = []
    real = mqa.validate_graph

    def counted(g: Graph) -> Any:
        runs.append(len(g))
        return real(g)

    monkeypatch.setattr(mqa, "validate_graph", counted)
    monkeypatch.setattr(mqa, "_verdicts", mqa._Verdicts(size=2))
    return runs


def _graph(session: Session, caller: Caller, **overrides: Any) -> Graph:
    ds = create_dataset(session, caller, parse_dataset(sample_dataset(groups=[], **overrides)))
    g = new_graph()
    add_dataset(g, "http://localhost", ds)
    return g


def test_an_unchanged_export_is_validated_once_and_a_changed_one_again(
    session: Session, org_token: tuple[Caller, str], validations: list[int]
) -> None:
    caller = org_token[0]
    first = _graph(session, caller)
    assert mqa._conforms(first) is True
    # The same dataset exported again: new blank nodes, same graph up to isomorphism.
    again = new_graph()
    for triple in first:
        again.add(triple)
    rebuilt = _graph(session, caller, name="population-2025")
    assert mqa._conforms(again) is True
    assert len(validations) == 1
    assert mqa._conforms(rebuilt) is True  # another dataset: validated
    assert len(validations) == 2
    # A dataset without a title breaks DCAT-AP's dct:title (1..n): a new verdict, not the old.
    (dataset,) = first.subjects(RDF.type, DCAT.Dataset)
    broken = new_graph()
    for triple in first:
        if triple[1] != DCTERMS.title:
            broken.add(triple)
    assert (dataset, DCTERMS.title, None) not in broken
    assert mqa._conforms(broken) is False
    assert len(validations) == 3
    # Bounded: the store holds two verdicts, so the first graph was dropped and runs again.
    assert mqa._conforms(first) is True
    assert len(validations) == 4
