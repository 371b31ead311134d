"""Geocoder fixtures: one index built from the real ABR files, shared by the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED
from tsunagu.registries.address.geocoder import (
    AddressIndex,
    FileAddressSource,
    Geocoder,
    build_index,
)

ABR_DATA = SHARED / "abr-data"


def abr_files() -> list[Path]:
    """The ABR files the accuracy report loads (SOURCES.md describes each)."""
    return sorted(ABR_DATA.glob("mt_*.csv.zip")) + sorted((ABR_DATA / "abr-2022-04").glob("*.zip"))


@pytest.fixture(scope="session")
def abr_index() -> AddressIndex:
    return build_index(FileAddressSource(abr_files()))


@pytest.fixture(scope="session")
def geocoder(abr_index: AddressIndex) -> Geocoder:
    return Geocoder(abr_index)
