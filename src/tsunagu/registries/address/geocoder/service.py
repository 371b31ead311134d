"""One geocoder per process, rebuilt when the registry it was built from changes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from tsunagu.registries.address.geocoder.index import AddressIndex, build_index
from tsunagu.registries.address.geocoder.matcher import Geocoder
from tsunagu.registries.address.geocoder.source import AddressSource

log = logging.getLogger(__name__)

VERSION_CHECK_SECONDS = 30.0  # how stale the index may be after an import


class GeocoderCache:
    """Builds the index on first use, and again in the background when the registry changes.

    ``source.version()`` is itself a query, so it runs at most every ``check_seconds``; requests
    in between reuse the index without touching the database. Only the very first build makes
    callers wait (there is nothing to answer from yet). After an import, one background thread
    builds the new index (about 30 s for the whole country) while requests go on being answered
    from the old one, which is then swapped for the new in one assignment.
    """

    def __init__(
        self,
        source: AddressSource,
        check_seconds: float = VERSION_CHECK_SECONDS,
        build: Callable[[AddressSource], AddressIndex] = build_index,
    ):
        self.source = source
        self.check_seconds = check_seconds
        self.build = build
        self._geocoder: Geocoder | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._rebuilding: threading.Thread | None = None

    @property
    def rebuilding(self) -> bool:
        thread = self._rebuilding
        return thread is not None and thread.is_alive()

    def get(self) -> Geocoder:
        """The current geocoder: built now if there is none, else the newest one built."""
        now = time.monotonic()
        current = self._geocoder
        if current is not None and now - self._checked < self.check_seconds:
            return current
        with self._lock:
            if self._geocoder is None:
                self._geocoder = self._build()
                self._checked = time.monotonic()
                return self._geocoder
            if now - self._checked >= self.check_seconds:
                self._checked = now
                if not self.rebuilding and self.source.version() != self._geocoder.index.version:
                    self._rebuilding = threading.Thread(
                        target=self._rebuild, name="tsunagu-address-index", daemon=True
                    )
                    self._rebuilding.start()
            return self._geocoder

    def _build(self) -> Geocoder:
        index = self.build(self.source)
        log.info(
            "address index built",
            extra={"seconds": round(index.build_seconds, 1), "counts": index.counts},
        )
        return Geocoder(index)

    def _rebuild(self) -> None:
        try:
            self._geocoder = self._build()
        except Exception:  # the old index keeps answering; the next check tries again
            log.exception("address index rebuild failed")


def app_geocoder(state: Any) -> Geocoder:
    """The geocoder of an app (``app.state``), over its registry database; built once."""
    from tsunagu.registries.address.geocoder.dbsource import DbAddressSource

    cache: GeocoderCache | None = getattr(state, "address_geocoder", None)
    if cache is None:
        cache = GeocoderCache(DbAddressSource(state.sessionmaker))
        state.address_geocoder = cache
    return cache.get()
