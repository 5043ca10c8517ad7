"""The lean HTTP/1.1 client against real servers on 127.0.0.1: response framings (length, chunked,
until close, none), keep-alive reuse and the pool limit, stale keep-alive retried once, and every
failure as its error kind with the pool slot given back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from generator.protocols.http1 import (
    Http1Client,
    Http1Error,
    Http1Result,
    _Connection,
    build_request,
)
from generator.protocols.http1_wire import Head, parse_head
from tests.support.ports import closed_port

pytestmark = pytest.mark.timeout(30)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A raw TCP server whose handler writes whatever bytes a test needs."""

    def __init__(self) -> None:
        self.handler: Handler | None = None  # set once the server exists: handlers record in it
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.requests: list[bytes] = []
        self.all_closed = asyncio.Event()  # set whenever no connection is open
        self.got_request = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.all_closed.clear()
        self.most_open = max(self.most_open, self.open_now)
        assert self.handler is not None
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open_now -= 1
            if self.open_now == 0:
                self.all_closed.set()
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        request = head + (await reader.readexactly(length) if length else b"")
        self.requests.append(request)
        self.got_request.set()
        return request


def answering(*responses: bytes, close_after: bool = False) -> Callable[[Server], Handler]:
    """A handler answering each request on a connection with the next response (the last one
    repeats); ``close_after``: hang up after the first answer without saying so."""

    def bind(server: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for i in range(10_000):
                await server.read_request(reader)
                writer.write(responses[min(i, len(responses) - 1)])
                await writer.drain()
                if close_after:
                    return

        return handle

    return bind


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Callable[[Server], Handler]], Awaitable[Server]]]:
    servers: list[Server] = []

    async def start(bind: Callable[[Server], Handler]) -> Server:
        server = Server()
        server.handler = bind(server)
        servers.append(await server.__aenter__())
        return server

    yield start
    for server in servers:
        await server.__aexit__()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
GET = build_request("GET", "test", "/x", {}, None)


def _client(server: Server, **overrides: float) -> Http1Client:
    settings = {"max_connections": 4, "timeout_s": 5.0} | overrides
    return Http1Client(
        "127.0.0.1",
        server.port,
        max_connections=int(settings["max_connections"]),
        timeout_s=settings["timeout_s"],
    )


@pytest.mark.parametrize(
    ("response", "head", "expected"),
    [
        (OK, False, Http1Result(200, None, 5)),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n", False,
         Http1Result(200, None, 7)),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
         False, Http1Result(201, None, 2)),
        (b"HTTP/1.1 204 No Content\r\n\r\n", False, Http1Result(204, None, 0)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", True, Http1Result(200, None, 0)),
        (b"HTTP/1.1 302 Found\r\nLocation: /next?a=1\r\ncontent-length: 0\r\n\r\n", False,
         Http1Result(302, "/next?a=1", 0)),
    ],
)  # fmt: skip
async def test_each_framing_reads_to_the_end_and_keeps_the_connection(
    serve: Callable[..., Awaitable[Server]], response: bytes, head: bool, expected: Http1Result
) -> None:
    server = await serve(answering(response))
    client = _client(server)
    try:
        for _ in range(3):  # the next request on the same connection proves the end was found
            assert await client.request(GET, head=head) == expected
    finally:
        await client.close()
    assert server.connections == 1


async def test_a_body_until_close_is_read_and_the_connection_is_not_reused(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(answering(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 70_000, close_after=True))
    client = _client(server)
    try:
        for _ in range(2):
            assert await client.request(GET) == Http1Result(200, None, 70_000)
    finally:
        await client.close()
    assert server.connections == 2


async def test_connection_close_is_honoured(serve: Callable[..., Awaitable[Server]]) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    server = await serve(answering(closing, close_after=True))
    client = _client(server)
    try:
        for _ in range(3):
            assert (await client.request(GET)).status == 200
    finally:
        await client.close()
    assert server.connections == 3


async def test_the_request_bytes_arrive_as_built(serve: Callable[..., Awaitable[Server]]) -> None:
    server = await serve(answering(OK))
    raw = build_request("POST", "h:1", "/p?q=1", {"X-A": "b"}, b'{"k":1}')
    client = _client(server)
    try:
        await client.request(raw)
        await client.request(build_request("PUT", "h:1", "/p", {}, None))
    finally:
        await client.close()
    assert server.requests[0] == raw
    assert server.requests[0].startswith(b"POST /p?q=1 HTTP/1.1\r\nHost: h:1\r\n")
    assert b"\r\nX-A: b\r\nContent-Length: 7\r\n\r\n{" in server.requests[0]
    assert b"\r\nContent-Length: 0\r\n" in server.requests[1]
    with pytest.raises(ValueError, match="line break"):
        build_request("GET", "h", "/", {"X-Evil": "a\r\nInjected: 1"}, None)


async def test_keep_alive_and_the_pool_limit(serve: Callable[..., Awaitable[Server]]) -> None:
    server = await serve(answering(OK))
    client = _client(server, max_connections=2)
    try:
        results = await asyncio.gather(*(client.request(GET) for _ in range(20)))
        for _ in range(50):
            await client.request(GET)
    finally:
        await client.close()
    assert [r.status for r in results] == [200] * 20
    assert server.most_open == 2
    assert server.connections == 2  # 70 requests, two connections


async def test_a_kept_alive_connection_the_server_dropped_is_retried_once(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    # Answers once per connection, then hangs up without saying Connection: close.
    server = await serve(answering(OK, close_after=True))
    client = _client(server, max_connections=1)
    try:
        # Each next request goes out on the dropped connection (or finds it closed), and is
        # sent again on a new one.
        assert (await client.request(GET)).status == 200
        assert (await client.request(GET)).status == 200
        assert (await client.request(GET)).status == 200
    finally:
        await client.close()
    assert server.connections == 3


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (b"SMTP ready\r\n\r\n", "protocol_error"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n", "protocol_error"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "protocol_error"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", "closed"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"y" * 70_000, "protocol_error"),
    ],
)
async def test_bad_or_cut_responses_are_errors_of_their_kind(
    serve: Callable[..., Awaitable[Server]], response: bytes, kind: str
) -> None:
    server = await serve(answering(response, close_after=True))
    client = _client(server, max_connections=1)
    try:
        with pytest.raises(Http1Error) as info:
            await client.request(GET)
        assert info.value.kind == kind
        assert f"127.0.0.1:{server.port}" in str(info.value)
    finally:
        await client.close()


async def test_refused_and_timeout_give_the_slot_back(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    refused = Http1Client("127.0.0.1", closed_port(), max_connections=1, timeout_s=5.0)
    with pytest.raises(Http1Error) as info:
        await refused.request(GET)
    assert info.value.kind == "refused"
    await refused.close()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads until the client hangs up, never answers

    server = await serve(lambda _: silent)
    client = _client(server, max_connections=1, timeout_s=0.3)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        with pytest.raises(Http1Error) as info:
            await client.request(GET)
        assert info.value.kind == "timeout"
        assert 0.25 <= loop.time() - started < 2.0
        with pytest.raises(Http1Error) as info:  # the one slot is free again: a new attempt
            await client.request(GET)
        assert info.value.kind == "timeout"
        assert server.connections == 2  # the timed-out connection was not reused
    finally:
        await client.close()


async def test_cancelling_a_request_frees_its_slot(serve: Callable[..., Awaitable[Server]]) -> None:
    answered = asyncio.Event()

    def bind(server: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            if server.connections == 1:
                await reader.read()  # the first connection never gets an answer
                return
            writer.write(OK)
            await writer.drain()
            answered.set()
            await reader.read()

        return handle

    server = await serve(bind)
    client = _client(server, max_connections=1)
    try:
        stuck = asyncio.create_task(client.request(GET))
        waiting = asyncio.create_task(client.request(GET))  # queued behind the stuck one
        await asyncio.wait_for(server.got_request.wait(), 5.0)
        stuck.cancel()
        assert (await waiting).status == 200
        assert answered.is_set()
        with pytest.raises(asyncio.CancelledError):
            await stuck
    finally:
        await client.close()


async def test_close_ends_every_connection_and_later_requests(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(answering(OK))
    client = _client(server)
    await asyncio.gather(*(client.request(GET) for _ in range(4)))
    await client.close()
    await asyncio.wait_for(server.all_closed.wait(), 5.0)  # the server sees every one end
    assert server.open_now == 0
    with pytest.raises(Http1Error) as info:
        await client.request(GET)
    assert info.value.kind == "closed"


class _Wire:
    """A transport that keeps what is written (for feeding a connection bytes by hand)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.closing = True


@pytest.mark.parametrize(
    "response",
    [
        OK,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    ],
)
async def test_a_response_read_in_two_pieces_anywhere_is_the_whole_one(response: bytes) -> None:
    # One read holding the whole response takes a shortcut (http1.py `_whole`); a response cut
    # anywhere must read the same through the general parser.
    loop = asyncio.get_running_loop()
    for cut in range(len(response) + 1):
        conn = _Connection("here")
        conn.connection_made(_Wire())  # type: ignore[arg-type]
        waiter: asyncio.Future[Http1Result] = loop.create_future()
        conn.send(GET, waiter, False)
        for piece in (response[:cut], response[cut:]):
            if piece:
                conn.data_received(piece)
        assert waiter.done(), cut
        assert waiter.result() == Http1Result(200, None, 5), cut
        assert conn.reusable, cut


async def test_each_request_times_out_on_its_own_deadline(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    # One timer serves every request under way: when it fires for a request that was answered,
    # it must move on to the deadline of the next one still waiting.
    def bind(server: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            if server.connections == 1:  # the first connection is answered, the others not
                writer.write(OK)
                await writer.drain()
            await reader.read()

        return handle

    server = await serve(bind)
    client = _client(server, max_connections=2, timeout_s=0.4)
    loop = asyncio.get_running_loop()
    try:
        answered = await client.request(GET)  # the timer is set for its deadline
        assert answered.status == 200
        await asyncio.sleep(0.2)  # the next request starts half a timeout later
        started = loop.time()
        with pytest.raises(Http1Error) as info:
            await client.request(build_request("GET", "test", "/y", {}, None))
        assert info.value.kind == "timeout"
        assert 0.35 <= loop.time() - started < 2.0
    finally:
        await client.close()


def test_a_head_is_read_once_and_remembered() -> None:
    raw = b"HTTP/1.1 301 Moved\r\nLOCATION: /there\r\nContent-Length: 12\r\nConnection: close\r\n"
    first = parse_head(raw)
    assert first == Head(301, False, "/there", False, 12)
    assert parse_head(bytes(bytearray(raw))) is first  # an equal head, not the same object
    assert parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: x\r\n") == Head(
        200, False, None, False, -1
    )
    with pytest.raises(ValueError, match="status line"):
        parse_head(b"SMTP ready\r\n")
