"""Error classification: the exceptions of the layers below map to DESIGN.md's taxonomy, and the
clients raise the right kind against live local servers that refuse, reject, hang or fail."""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import AsyncIterator
from http import HTTPStatus

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from generator.protocols.base import ClientSettings, Utterance
from generator.protocols.errors import (
    CallError,
    ServerError,
    SessionClosed,
    classify_connect,
    classify_session,
)
from generator.protocols.realtime import RealtimeClient, encode_realtime
from tests.generator.protocols.call_fakes import fake_realtime, ws_server
from tests.support.ports import closed_port


def _response(status: int) -> Response:
    return Response(status, HTTPStatus(status).phrase, Headers())


@pytest.mark.parametrize(
    ("exc", "kind", "tags"),
    [
        (InvalidStatus(_response(429)), "handshake_rejected", {"status": "429"}),
        (TimeoutError(), "connect_timeout", {}),
        (ssl.SSLError(1, "bad cert"), "tls", {}),
        (ConnectionRefusedError(111, "Connection refused"), "refused", {}),
    ],
)
def test_connect_failures(exc: Exception, kind: str, tags: dict[str, str]) -> None:
    error = classify_connect(exc)
    assert (error.kind, error.tags) == (kind, tags)


@pytest.mark.parametrize(
    ("code", "kind"),
    [(1013, "server_capacity"), (1008, "server_capacity"), (1011, "closed"), (1000, "closed")],
)
def test_closes(code: int, kind: str) -> None:
    error = classify_session(ConnectionClosedError(Close(code, ""), None))
    assert (error.kind, error.tags) == (kind, {"code": str(code)})


def test_lost_connection_is_closed_1006_and_error_codes() -> None:
    assert classify_session(ConnectionClosedError(None, None)).tags == {"code": "1006"}
    assert ServerError("capacity").kind == "server_capacity"
    assert (ServerError("db_unavailable").kind, ServerError("db_unavailable").tags) == (
        "server_error",
        {"code": "db_unavailable"},
    )
    assert classify_session(ValueError("junk")).kind == "protocol_error"


def _client(
    url: str,
    connect_timeout_s: float = 5.0,
    greeting_timeout_s: float = 5.0,
    response_timeout_s: float = 5.0,
) -> RealtimeClient:
    settings = ClientSettings(url, connect_timeout_s, greeting_timeout_s, response_timeout_s)
    return RealtimeClient(settings, random.Random(0))


async def _fails(client: RealtimeClient, step: str = "connect") -> CallError:
    async def call() -> None:
        await client.connect()
        await client.wait_greeting("wait")
        if step == "turn":
            utterance = Utterance.of(encode_realtime(bytes(960)), [True])
            await client.send_utterance(utterance, lambda _lag: None)
            await client.end_utterance()
            await client.wait_response()

    with pytest.raises(CallError) as info:
        await call()
    await client.close()
    return info.value


async def test_refused_port() -> None:
    port = closed_port()
    error = await _fails(_client(f"ws://127.0.0.1:{port}/v1/realtime"))
    assert error.kind == "refused"


async def test_handshake_rejected_with_status() -> None:
    def reject(connection, _request):  # type: ignore[no-untyped-def]
        return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "slow down\n")

    async with ws_server(fake_realtime(), process_request=reject) as url:
        error = await _fails(_client(url))
    assert (error.kind, error.tags) == ("handshake_rejected", {"status": "429"})


@pytest.fixture
async def silent_tcp() -> AsyncIterator[str]:
    """Accepts TCP connections and never answers the WebSocket upgrade."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_connect_timeout(silent_tcp: str) -> None:
    error = await _fails(_client(silent_tcp, connect_timeout_s=0.3))
    assert error.kind == "connect_timeout"


async def test_greeting_timeout() -> None:
    async with ws_server(fake_realtime(greet=False)) as url:
        error = await _fails(_client(url, greeting_timeout_s=0.2))
    assert error.kind == "greeting_timeout"


@pytest.mark.parametrize(
    ("turn", "kind", "tags"),
    [
        ("stall", "response_timeout", {}),
        ("error", "server_error", {"code": "boom"}),
        ("close_1013", "server_capacity", {"code": "1013"}),
    ],
)
async def test_failures_after_connect(turn: str, kind: str, tags: dict[str, str]) -> None:
    async with ws_server(fake_realtime(turn)) as url:
        error = await _fails(_client(url, response_timeout_s=0.3), step="turn")
    assert (error.kind, error.tags) == (kind, tags)
    assert isinstance(error, ServerError | SessionClosed) or kind == "response_timeout"
