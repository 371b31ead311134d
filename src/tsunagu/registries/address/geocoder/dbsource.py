"""The registry database as an AddressSource (what a running node geocodes against)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import tsunagu.registries.address as registry
from tsunagu.db import OutboxEvent
from tsunagu.registries.address.geocoder.source import Row


class DbAddressSource:
    """Streams rows through ``tsunagu.registries.address``'s public ``iter_*`` functions."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def version(self) -> str:
        """Changes when an import changes rows (its events) or the first data arrives.

        The registry records an ``address.*`` event for every changed row after the first
        load, so the latest such event plus the 都道府県/市区町村 row counts identify a state.
        """
        with self.sessions() as session:
            last = session.scalar(
                select(func.max(OutboxEvent.seq)).where(OutboxEvent.topic.like("address.%"))
            )
            loaded = registry.has_address_data(session)
            cities = sum(1 for _ in registry.iter_municipalities(session))
        return f"{loaded}:{cities}:{last or 0}"

    def _stream(self, read: Callable[[Session], Iterator[dict[str, Any]]]) -> Iterator[Row]:
        with self.sessions() as session:
            yield from read(session)

    def iter_prefectures(self) -> Iterator[Row]:
        return self._stream(registry.iter_prefectures)

    def iter_municipalities(self) -> Iterator[Row]:
        return self._stream(registry.iter_municipalities)

    def iter_towns(self) -> Iterator[Row]:
        return self._stream(registry.iter_towns)

    def iter_blocks(self) -> Iterator[Row]:
        return self._stream(registry.iter_blocks)

    def iter_residences(self) -> Iterator[Row]:
        return self._stream(registry.iter_residences)

    def iter_parcels(self) -> Iterator[Row]:
        return self._stream(registry.iter_parcels)
