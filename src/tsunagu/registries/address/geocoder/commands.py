"""The batch path behind ``tsunagu address geocode``: lines in, formatted results out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TextIO

from tsunagu.registries.address.geocoder.formats import render
from tsunagu.registries.address.geocoder.matcher import Geocoder, GeocodeResult


def read_lines(stream: TextIO) -> Iterator[str]:
    """Addresses one per line; blank lines and ``#``/``//`` comment lines are skipped."""
    for line in stream:
        text = line.rstrip("\r\n")
        stripped = text.strip()
        if stripped and not stripped.startswith(("#", "//")):
            yield text


def geocode_stream(
    geocoder: Geocoder, addresses: Iterable[str], target: str, fmt: str
) -> Iterator[str]:
    """Formatted output chunks, one address at a time (nothing is held in memory)."""

    def results() -> Iterator[GeocodeResult]:
        for address in addresses:
            yield geocoder.geocode(address, target)

    return render(results(), fmt)
