"""One geocoder per process, rebuilt when the registry it was built from changes."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from tsunagu.registries.address.geocoder.index import build_index
from tsunagu.registries.address.geocoder.matcher import Geocoder
from tsunagu.registries.address.geocoder.source import AddressSource

log = logging.getLogger(__name__)

VERSION_CHECK_SECONDS = 30.0  # how stale the index may be after an import


class GeocoderCache:
    """Builds the index on first use and again only when ``source.version()`` changes.

    The version check is itself a query, so it runs at most every ``check_seconds``; requests
    in between reuse the index without touching the database.
    """

    def __init__(self, source: AddressSource, check_seconds: float = VERSION_CHECK_SECONDS):
        self.source = source
        self.check_seconds = check_seconds
        self._geocoder: Geocoder | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self) -> Geocoder:
        """The current geocoder (building or rebuilding it if needed)."""
        now = time.monotonic()
        current = self._geocoder
        if current is not None and now - self._checked < self.check_seconds:
            return current
        with self._lock:
            if self._geocoder is not None and now - self._checked < self.check_seconds:
                return self._geocoder
            version = self.source.version()
            if self._geocoder is None or self._geocoder.index.version != version:
                index = build_index(self.source)
                log.info(
                    "address index built",
                    extra={"seconds": round(index.build_seconds, 1), "counts": index.counts},
                )
                self._geocoder = Geocoder(index)
            self._checked = time.monotonic()
            return self._geocoder


def app_geocoder(state: Any) -> Geocoder:
    """The geocoder of an app (``app.state``), over its registry database; built once."""
    from tsunagu.registries.address.geocoder.dbsource import DbAddressSource

    cache: GeocoderCache | None = getattr(state, "address_geocoder", None)
    if cache is None:
        cache = GeocoderCache(DbAddressSource(state.sessionmaker))
        state.address_geocoder = cache
    return cache.get()
