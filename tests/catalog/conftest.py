"""Fixtures of the catalog API tests: sample records and the CKAN response JSON Schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from sqlalchemy.orm import Session

from tests.conftest import SHARED
from tsunagu.catalog import Group

SCHEMAS = SHARED / "catalog-samples" / "data-gov-uk" / "schemas"
SCHEMA_BASE = "http://github.com/alphagov/ckan-functional-tests/api/"
# data.gov.uk redacts personal data, so its schemas forbid these keys; CKAN itself (and we)
# publish them. That one rule is the only deviation the schema checks tolerate.
PII_KEYS = frozenset({"author", "author_email", "maintainer", "maintainer_email"})


def sample_dataset(**overrides: Any) -> dict[str, Any]:
    """A complete CKAN package dict owned by the 'test-org' organization."""
    data: dict[str, Any] = {
        "name": "population-2024",
        "title": "人口統計（令和6年）",
        "title_en": "Population statistics 2024",
        "owner_org": "test-org",
        "notes": "区市町村別の人口と世帯数",
        "license_id": "cc-by-4.0",
        "author": "統計課",
        "tags": [{"name": "人口"}, {"name": "統計"}],
        "groups": [{"name": "population"}],
        "municipalities": ["131016"],
        "frequency": "annual",
        "temporal_start": "2024-01-01",
        "temporal_end": "2024-12-31",
        "resources": [
            {
                "name": "人口表",
                "url": "https://example.jp/population.csv",
                "format": "CSV",
                "mimetype": "text/csv",
                "size": 1234,
                "data_dictionary": [
                    {"name": "population", "label_ja": "人口", "data_type": "integer"}
                ],
            }
        ],
        "extras": [{"key": "spatial_note", "value": "東京都"}],
    }
    data.update(overrides)
    return data


@pytest.fixture
def population_group(session: Session) -> Group:
    group = Group(name="population", title="人口・世帯", title_en="Population")
    session.add(group)
    session.commit()
    return group


def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        resource = Resource.from_contents(
            json.loads(path.read_text()), default_specification=DRAFT7
        )
        short = path.name.removesuffix(".schema.json")
        # The schemas $ref each other by short name ("common#/...", "package_base"), resolved
        # against their $id's base URI, so register each under both names.
        resources += [(SCHEMA_BASE + path.name, resource), (SCHEMA_BASE + short, resource)]
    return Registry().with_resources(resources)


@pytest.fixture(scope="session")
def ckan_schema() -> Callable[[str, Any], list[str]]:
    """``check(name, response)``: the schema violations of a CKAN action response."""
    registry = _registry()

    def check(name: str, instance: Any) -> list[str]:
        schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
        validator = Draft7Validator(schema, registry=registry)
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(instance)
            if not ("propertyNames" in e.schema_path and e.instance in PII_KEYS)
            and not _only_pii(e)
        ]

    return check


def _only_pii(error: Any) -> bool:
    # propertyNames failures nest inside allOf/anyOf; accept a failure whose every leaf is a
    # PII key name rejected by propertyNames.
    if not error.context:
        return "propertyNames" in error.schema_path and error.instance in PII_KEYS
    return all(_only_pii(e) for e in error.context)
