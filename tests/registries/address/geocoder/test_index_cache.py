"""The per-process geocoder cache: built once, rebuilt in the background after an import."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tsunagu.registries.address.geocoder.index import AddressIndex, build_index
from tsunagu.registries.address.geocoder.service import GeocoderCache
from tsunagu.registries.address.geocoder.source import AddressSource, Row


class Source:
    """No rows; only the version, which an import would change."""

    def __init__(self) -> None:
        self.current = "1"

    def version(self) -> str:
        return self.current

    def _none(self) -> Iterator[Row]:
        return iter(())

    iter_prefectures = iter_municipalities = iter_towns = _none
    iter_blocks = iter_residences = iter_parcels = _none


def test_requests_are_answered_from_the_old_index_while_the_new_one_builds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = Source()
    gate = threading.Event()
    builds: list[str] = []

    def build(s: AddressSource) -> AddressIndex:
        builds.append(s.version())
        if s.version() == "2":
            assert gate.wait(30)
        if s.version() == "3":
            raise RuntimeError("the database went away")
        return build_index(s)

    cache = GeocoderCache(source, check_seconds=0.0, build=build)
    first = cache.get()
    assert first.index.version == "1" and cache.get() is first and builds == ["1"]

    source.current = "2"  # an import happened
    assert cache.get() is first  # answered at once, from the old index
    assert cache.rebuilding
    assert cache.get() is first and builds == ["1", "2"]  # one rebuild at a time
    gate.set()
    assert cache._rebuilding is not None
    cache._rebuilding.join(30)
    second = cache.get()
    assert second is not first and second.index.version == "2"

    source.current = "3"  # a rebuild that fails keeps the index that works
    assert cache.get() is second
    cache._rebuilding.join(30)
    assert cache.get() is second and "rebuild failed" in caplog.text
