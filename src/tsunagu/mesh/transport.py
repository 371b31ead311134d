"""The node's asynchronous HTTP client: to other nodes over mutual TLS, and to its backends.

aiohttp rather than httpx on the request path: measured on this project's 2-core machine
(2026-11-26, keep-alive GET of a 71-byte JSON answer from a local uvicorn), httpx's
``AsyncClient`` spent about 0.7–0.8 ms of CPU per request and aiohttp about 0.15–0.2 ms — and
every round trip makes two such calls (consumer node → provider node → backend). The worker's
synchronous calls (push, subscriptions) keep httpx.

The URL is sent exactly as given (``encoded=True``): the provider verifies the signature over
the request target, so the client must not re-quote it.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL


@dataclass(frozen=True)
class Fetched:
    """An answer as read off the wire: status, headers (lower-case names), body, and the
    DER certificate the TLS peer presented (None over plain HTTP)."""

    status: int
    headers: dict[str, str]
    body: bytes
    peer_der: bytes | None = None


class FetchError(Exception):
    """The call failed before an answer arrived."""


class FetchTimeout(FetchError):
    """No answer within the timeout."""


class FetchConnectError(FetchError):
    """No connection: refused, unreachable, or the TLS handshake failed."""


class NodeHttp:
    """One connection pool; created lazily, inside the event loop that uses it."""

    def __init__(
        self, ssl_context: ssl.SSLContext | None, timeout: float, limit: int = 200
    ) -> None:
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.limit,
                ssl=self.ssl_context if self.ssl_context is not None else True,
                enable_cleanup_closed=False,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                auto_decompress=True,
                # Headers go out exactly as given: aiohttp would add a Content-Type
                # (application/octet-stream) to a POST, PUT or PATCH without one, which the
                # consumer did not sign, so the provider refused the message.
                skip_auto_headers=("User-Agent", "Content-Type"),
            )
        return self._session

    async def request(
        self, method: str, url: str, *, content: bytes | None, headers: Mapping[str, str]
    ) -> Fetched:
        try:
            async with self._client().request(
                method,
                URL(url, encoded=True),
                data=content or None,
                headers=dict(headers),
                allow_redirects=False,
            ) as response:
                der = _peer_der(response)  # before the body: the connection is released after
                body = await response.read()
                return Fetched(
                    response.status,
                    {k.lower(): v for k, v in response.headers.items()},
                    body,
                    der,
                )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise FetchTimeout(str(exc) or "timed out") from None
        except aiohttp.ClientConnectorError as exc:
            raise FetchConnectError(str(exc) or type(exc).__name__) from None
        except aiohttp.ClientError as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _peer_der(response: aiohttp.ClientResponse) -> bytes | None:
    """The certificate the TLS peer presented on the connection that carried ``response``.

    aiohttp releases a connection as soon as a short body has arrived, often before the caller
    gets the response, so ``response.connection`` may already be None; the protocol it was
    read from keeps its transport. ``_protocol`` is private: the federation tests fail at once
    ("the provider presented no certificate") if an aiohttp upgrade changes it.
    """
    connection = response.connection
    protocol: Any = connection.protocol if connection is not None else response._protocol
    transport: Any = getattr(protocol, "transport", None)
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    der = ssl_object.getpeercert(True) if ssl_object is not None else None
    return bytes(der) if der else None
