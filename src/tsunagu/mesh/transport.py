"""The node's asynchronous HTTP client: to other nodes over mutual TLS, and to its backends.

Written here, on asyncio's protocol API with httptools (llhttp, the parser uvicorn uses) framing
the answers, rather than taken from a library: it is on the path of every round trip twice
(consumer node → provider node → backend), and the libraries cost several times the work
itself. Measured on this project's 2-core machine, CPU per keep-alive GET of a small JSON
answer: httpx's ``AsyncClient`` 0.7–0.8 ms (2026-11-26), aiohttp 0.14 ms, this client about a
third of that (2026-11-27, side by side; docs/benchmarks.md). It does only what the mesh needs:
HTTP/1.1 with keep-alive pools per origin; requests sent exactly as given (the provider
verifies the signature over the request target, so nothing is re-quoted, and no header is
added but ``Host`` and ``Content-Length``); answers framed by llhttp (length, chunked, or the
end of the connection); no redirects, cookies or proxies; one total timeout per call. The
worker's synchronous calls (push, subscriptions) use httpx.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools


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


class _Disconnected(Exception):
    """The connection closed before the answer was complete."""


class _Unasked(Exception):
    """A second answer to one request (raised in the parser's callback: stops the parse)."""


# Bounds on what another node or a backend may send back: the head (status line and headers)
# and the whole answer. Beyond them the call fails and the connection is dropped.
MAX_HEAD_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 64 * 1024 * 1024


_Answer = tuple[int, dict[str, str], bytes, bool]  # status, headers, body, keep the connection


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.peer_der: bytes | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[_Answer] | None = None
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.headers_done = False
        self.received = 0  # bytes of the answer to the current request

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(True) if ssl_object is not None else None
        self.peer_der = bytes(der) if der else None

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.waiter is None or self.waiter.done():  # nobody asked: not to be trusted
            self.abort()
            return
        try:
            if self.received > MAX_ANSWER_BYTES:
                raise FetchError("the answer is too large")
            self.parser.feed_data(data)
            if not self.headers_done and self.received > MAX_HEAD_BYTES:
                raise FetchError("the answer's head is too large")
        except httptools.HttpParserError as exc:
            self._fail(FetchError(f"invalid HTTP answer: {exc}"))
            self.abort()
        except FetchError as exc:
            self._fail(exc)
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is None or self.waiter.done():
            return
        framed = (
            "content-length" in self.headers
            or "chunked" in self.headers.get("transfer-encoding", "").lower()
        )
        if self.headers_done and not framed:  # an answer that ends with its connection
            self._complete(keep=False)
        else:
            self._fail(_Disconnected("the server closed the connection"))

    # -- httptools' callbacks

    def on_message_begin(self) -> None:
        if self.waiter is None or self.waiter.done():  # a second answer to one request
            raise _Unasked("an answer nobody asked for")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:  # interim (103 Early Hints): wait on
            self.headers, self.body, self.headers_done = {}, [], False
            return
        self._complete(keep=self.parser.should_keep_alive())

    # -- one exchange

    async def exchange(self, request: bytes) -> _Answer:
        if self.transport is None or self.closed:
            raise _Disconnected("the connection is closed")
        self.waiter = self.loop.create_future()
        self.headers, self.body, self.headers_done, self.received = {}, [], False, 0
        self.transport.write(request)
        try:
            return await self.waiter
        finally:
            self.waiter = None

    def _complete(self, *, keep: bool) -> None:
        if self.waiter is not None and not self.waiter.done():
            status = self.parser.get_status_code()
            headers, self.headers = self.headers, {}
            self.waiter.set_result((status, headers, b"".join(self.body), keep))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


# Headers the client writes itself: a caller's own would frame the request twice.
_OURS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def _header_line(name: str, value: str) -> str:
    """One header line; a CR, LF or NUL in either part (header injection) is refused."""
    if any(c in name or c in value for c in "\r\n\0") or ":" in name or not name:
        raise FetchError(f"invalid header {name[:100]!r}")
    return f"{name}: {value}\r\n"


def _decoded(headers: Mapping[str, str], body: bytes) -> bytes:
    """The body without a gzip or deflate encoding (none is asked for; a server may send one
    anyway; the header stays, as before)."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:  # raw deflate, as some servers send it
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


class NodeHttp:
    """Keep-alive connection pools per origin, at most ``limit`` calls at once. Used inside
    one event loop at a time: connections of another (closed) loop are dropped."""

    def __init__(
        self, ssl_context: ssl.SSLContext | None, timeout: float, limit: int = 200
    ) -> None:
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.limit = limit
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self._system_context: ssl.SSLContext | None = None

    async def request(
        self, method: str, url: str, *, content: bytes | None, headers: Mapping[str, str]
    ) -> Fetched:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise FetchConnectError(f"not an HTTP URL: {url[:200]}")
        context: ssl.SSLContext | None = None
        if scheme == "https":
            context = self.ssl_context or self._default_context()
        key = (scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
        # The target exactly as given: what follows the authority, without a fragment.
        target = url[len(parts.scheme) + 3 + len(parts.netloc) :].split("#", 1)[0] or "/"
        if any(c in target for c in " \r\n\0"):
            raise FetchError("invalid request target")
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"]
        lines += [_header_line(k, v) for k, v in headers.items() if k.lower() not in _OURS]
        if content or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(content or b'')}\r\n")
        request = "".join(lines).encode("latin-1") + b"\r\n" + (content or b"")
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(self.limit), loop
        try:
            async with self._slots, asyncio.timeout(self.timeout):
                return await self._call(loop, key, context, request)
        except TimeoutError:
            raise FetchTimeout("timed out") from None
        except UnicodeEncodeError:
            raise FetchError("a header is not Latin-1 text") from None

    def _default_context(self) -> ssl.SSLContext:
        """The system's CAs, for an HTTPS backend: built once (loading them takes milliseconds),
        not per call."""
        if self._system_context is None:
            self._system_context = ssl.create_default_context()
        return self._system_context

    async def _call(
        self,
        loop: asyncio.AbstractEventLoop,
        key: tuple[str, str, int],
        context: ssl.SSLContext | None,
        request: bytes,
    ) -> Fetched:
        connection = self._take(loop, key)
        if connection is not None:
            try:
                return await self._exchange(key, connection, request)
            except _Disconnected:
                if connection.received:  # the server had begun to answer: not sent again
                    raise FetchError("the server closed the connection mid-answer") from None
                # A kept connection the server had closed meanwhile: once more on a new one.
        connection = await self._connect(loop, key, context)
        try:
            return await self._exchange(key, connection, request)
        except _Disconnected as exc:
            raise FetchError(str(exc)) from None

    async def _exchange(
        self, key: tuple[str, str, int], connection: _Connection, request: bytes
    ) -> Fetched:
        try:
            status, headers, body, keep = await connection.exchange(request)
        except BaseException:  # failed, timed out or cancelled mid-exchange: spent
            connection.abort()
            raise
        if keep and not connection.closed:
            self._idle.setdefault(key, []).append(connection)
        else:
            connection.abort()
        try:
            body = _decoded(headers, body)
        except zlib.error:
            raise FetchError("the answer's content encoding cannot be decoded") from None
        return Fetched(status, headers, body, connection.peer_der)

    def _take(
        self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int]
    ) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.closed and connection.loop is loop:
                return connection
            if connection.loop is loop:
                connection.abort()
        return None

    async def _connect(
        self,
        loop: asyncio.AbstractEventLoop,
        key: tuple[str, str, int],
        context: ssl.SSLContext | None,
    ) -> _Connection:
        _, host, port = key
        try:
            _, protocol = await loop.create_connection(
                lambda: _Connection(loop),
                host,
                port,
                ssl=context,
                server_hostname=host if context is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise FetchConnectError(str(exc) or type(exc).__name__) from None
        return protocol

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                if connection.transport is not None and not connection.closed:
                    connection.transport.close()
