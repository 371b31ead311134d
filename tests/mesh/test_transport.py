"""The node's HTTP client (tsunagu.mesh.transport) against real sockets: requests go out exactly
as given, answers are framed by length, chunks or the connection's end, kept connections are
reused, a kept connection the server closed is retried once and a half-sent answer is not, and
bad input is refused before anything is sent."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import pytest

from tsunagu.mesh.transport import FetchConnectError, FetchError, FetchTimeout, NodeHttp

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request off the wire: its head and body (by Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


class Server:
    """A loopback server running ``handler`` per connection; counts connections, keeps heads."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.heads: list[bytes] = []

    async def __aenter__(self) -> str:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *_: object) -> None:
        self.server.close()

    def answering(self, *answers: bytes) -> Handler:
        """A handler that reads a request and sends the next answer, as long as there are any."""
        queue = list(answers)

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while queue:
                head, _ = await read_request(reader)
                self.heads.append(head)
                writer.write(queue.pop(0))
                await writer.drain()

        return handler


def run(coro: Awaitable[object]) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def test_requests_go_out_as_given_and_a_kept_connection_is_reused() -> None:
    async def go() -> None:
        server = Server(lambda r, w: asyncio.sleep(0))
        server.handler = server.answering(ok(b"one"), ok(b"two", b"Content-Type: text/x\r\n"))
        async with server as base:
            http = NodeHttp(None, 10)
            first = await http.request(
                "GET", base + "/a%2Fb/%E3%81%82?q=%20x#frag", content=None,
                headers={"X-Road-Id": "id-1"},
            )  # fmt: skip
            framing = {"Content-Length": "999", "Transfer-Encoding": "chunked", "Host": "x"}
            second = await http.request("POST", base + "/p", content=b"{}", headers=framing)
            await http.aclose()
        assert (first.status, first.body, second.body) == (200, b"one", b"two")
        assert second.headers["content-type"] == "text/x" and first.peer_der is None
        assert server.connections == 1  # kept alive
        port = base.rsplit(":", 1)[1]
        assert server.heads[0] == (
            b"GET /a%2Fb/%E3%81%82?q=%20x HTTP/1.1\r\nHost: 127.0.0.1:" + port.encode()
            + b"\r\nX-Road-Id: id-1\r\n\r\n"
        )  # fmt: skip
        assert server.heads[1] == (
            b"POST /p HTTP/1.1\r\nHost: 127.0.0.1:"
            + port.encode()
            + b"\r\nContent-Length: 2\r\n\r\n"
        )  # the caller's framing headers are not sent
        assert b"content-type" not in server.heads[1].lower()  # none added

    run(go())


def test_chunked_and_connection_delimited_answers_are_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )

    async def go() -> None:
        server = Server(lambda r, w: asyncio.sleep(0))
        server.handler = server.answering(chunked)
        async with server as base:
            http = NodeHttp(None, 10)
            assert (await http.request("GET", base + "/", content=None, headers={})).body == (
                b"abcde"
            )

            async def until_close(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                await read_request(reader)
                w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
                await w.drain()

            server.handler = until_close
            answer = await http.request("GET", base + "/", content=None, headers={})
            assert answer.body == b"all of it"
            await http.aclose()

    run(go())


def test_a_kept_connection_the_server_closed_is_retried_once_on_a_new_one() -> None:
    async def go() -> None:
        async def one_then_close(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await read_request(reader)
            w.write(ok(b"x"))  # keep-alive by HTTP/1.1's default, then closed anyway
            await w.drain()

        server = Server(one_then_close)
        async with server as base:
            http = NodeHttp(None, 10)
            await http.request("GET", base + "/", content=None, headers={})
            await asyncio.sleep(0.05)  # the server has closed it; the pool may not know yet
            answer = await http.request("GET", base + "/", content=None, headers={})
            await http.aclose()
        assert answer.body == b"x" and server.connections == 2

    run(go())


def test_an_answer_cut_off_is_an_error_and_not_sent_again() -> None:
    """On a kept connection too: the server had begun to answer, so it has the request."""

    async def cut(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(reader)
        w.write(ok(b"first"))
        await read_request(reader)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await w.drain()

    async def go() -> None:
        server = Server(cut)
        async with server as base:
            http = NodeHttp(None, 10)
            await http.request("POST", base + "/", content=b"1", headers={})
            with pytest.raises(FetchError, match="mid-answer"):
                await http.request("POST", base + "/", content=b"2", headers={})
            await http.aclose()
        assert server.connections == 1

    run(go())


def test_garbage_timeouts_refusals_and_encodings() -> None:
    async def go() -> None:
        async def garbage(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await read_request(reader)
            w.write(b"NOT HTTP AT ALL\r\n\r\n")
            await w.drain()

        async def silent(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await read_request(reader)
            await asyncio.sleep(5)

        packed = gzip.compress(b'{"a":1}')
        server = Server(garbage)
        async with server as base:
            http = NodeHttp(None, 0.3)
            with pytest.raises(FetchError, match="invalid HTTP answer"):
                await http.request("GET", base + "/", content=None, headers={})
            server.handler = silent
            with pytest.raises(FetchTimeout):
                await http.request("GET", base + "/", content=None, headers={})
            server.handler = server.answering(ok(packed, b"Content-Encoding: gzip\r\n"))
            answer = await http.request("GET", base + "/", content=None, headers={})
            assert answer.body == b'{"a":1}'
            server.handler = server.answering(ok(b"not gzip", b"Content-Encoding: gzip\r\n"))
            with pytest.raises(FetchError, match="content encoding"):
                await http.request("GET", base + "/", content=None, headers={})
            await http.aclose()
        with pytest.raises(FetchConnectError):  # the server is gone
            await NodeHttp(None, 2).request("GET", base + "/", content=None, headers={})

    run(go())


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("http://127.0.0.1:9/x", {"X-A": "1\r\nX-Injected: 1"}),
        ("http://127.0.0.1:9/x", {"X-A\r\nX-B": "1"}),
        ("http://127.0.0.1:9/x", {"X-A": "nul\0"}),
        ("http://127.0.0.1:9/x y", {}),
        ("http://127.0.0.1:9/x\r\nX-Injected: 1", {}),
        ("ftp://127.0.0.1:9/x", {}),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(url: str, headers: dict[str, str]) -> None:
    """Port 9 (discard) is not listening: a refusal, not a connection error, shows that
    nothing was sent."""

    async def go() -> None:
        with pytest.raises(FetchError) as caught:
            await NodeHttp(None, 2).request("GET", url, content=None, headers=headers)
        assert not isinstance(caught.value, FetchConnectError) or url.startswith("ftp")

    run(go())


def test_interim_answers_are_skipped_and_a_second_answer_drops_the_connection() -> None:
    early = b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"

    async def go() -> None:
        server = Server(lambda r, w: asyncio.sleep(0))
        server.handler = server.answering(early + ok(b"final"), ok(b"a") + ok(b"smuggled"))
        async with server as base:
            http = NodeHttp(None, 10)
            answer = await http.request("GET", base + "/", content=None, headers={})
            assert (answer.status, answer.body) == (200, b"final")
            assert "link" not in answer.headers
            answer = await http.request("GET", base + "/", content=None, headers={})
            assert answer.body == b"a" and "smuggled" not in str(answer.headers)
            server.handler = server.answering(ok(b"next"))
            answer = await http.request("GET", base + "/", content=None, headers={})
            assert answer.body == b"next"
            await http.aclose()
        assert server.connections == 2  # the connection that carried two answers was dropped

    run(go())


def test_answers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from tsunagu.mesh import transport

    monkeypatch.setattr(transport, "MAX_ANSWER_BYTES", 300_000)
    big = b"x" * 200_000  # larger than the head's bound, in one write: still fine

    async def go() -> None:
        server = Server(lambda r, w: asyncio.sleep(0))
        server.handler = server.answering(ok(big))
        async with server as base:
            http = NodeHttp(None, 10)
            assert (await http.request("GET", base + "/", content=None, headers={})).body == big
            server.handler = server.answering(ok(b"x" * 400_000))
            with pytest.raises(FetchError, match="too large"):
                await http.request("GET", base + "/", content=None, headers={})
            long_head = b"HTTP/1.1 200 OK\r\nX-Long: " + b"y" * 70_000 + b"\r\n"
            server.handler = server.answering(long_head)
            with pytest.raises(FetchError, match="head is too large"):
                await http.request("GET", base + "/", content=None, headers={})
            await http.aclose()

    run(go())
