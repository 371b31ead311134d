"""Bounded HTTP GETs for harvesting: a timeout, a body-size cap, and plain error messages."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tsunagu import __version__


class HarvestError(Exception):
    """A harvest run cannot go on (unreachable source, malformed page, endless paging …)."""


@dataclass(frozen=True)
class Limits:
    """How far one run may go (settings ``harvest_*``)."""

    max_pages: int = 1000
    max_datasets: int = 200_000
    max_bytes: int = 50_000_000
    timeout: float = 30.0


@dataclass(frozen=True)
class Page:
    url: str
    body: bytes
    content_type: str


def fetch(client: httpx.Client, url: str, limits: Limits) -> Page:
    """GET ``url``; the body is read in chunks and cut off at ``limits.max_bytes``."""
    try:
        with client.stream("GET", url, timeout=limits.timeout) as response:
            if response.status_code != 200:
                raise HarvestError(f"{url}: HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limits.max_bytes:
                raise HarvestError(f"{url}: {declared} bytes is over the {limits.max_bytes} limit")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limits.max_bytes:
                    raise HarvestError(f"{url}: the response is over {limits.max_bytes} bytes")
            return Page(url, bytes(body), response.headers.get("content-type", ""))
    except httpx.TimeoutException as exc:
        raise HarvestError(f"{url}: no answer within {limits.timeout:g} s ({exc})") from exc
    except httpx.HTTPError as exc:
        raise HarvestError(f"{url}: cannot be reached ({exc})") from exc


def new_client() -> httpx.Client:
    """A client that never follows redirects blindly into loops (at most 5)."""
    return httpx.Client(
        follow_redirects=True,
        max_redirects=5,
        headers={"User-Agent": f"tsunagu-harvester/{__version__}"},
    )
