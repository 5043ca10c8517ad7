"""The session shell hands each message in with the time its bytes came in, not the time the
reader got round to it: an injected latency counts from a request's arrival."""

from __future__ import annotations

import asyncio
import json
from typing import cast

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from mocks.realtime.connection import StampedConnection, run_session
from mocks.realtime.outputs import Output
from mocks.realtime.session import RealtimeSession
from mocks.realtime.timers import TimerLateness
from tests.support.polling import wait_until


class Recording:
    """A session that only notes what it is handed, and when."""

    def __init__(self) -> None:
        self.received: list[tuple[str | bytes, float]] = []

    def receive(self, message: str | bytes, now: float) -> None:
        self.received.append((message, now))

    def due(self, now: float) -> list[Output]:
        return []

    def next_deadline(self) -> float | None:
        return None

    def next_is_first_delta(self) -> bool:
        return False

    def connection_closed(self, code: int | None) -> None:
        pass


@pytest.mark.timeout(20)
async def test_a_message_s_time_is_its_arrival_not_when_it_is_read() -> None:
    session = Recording()
    arrivals: list[float] = []
    read_from: list[float] = []

    async def handle(ws: ServerConnection) -> None:
        assert isinstance(ws, StampedConnection)
        # The reader starts late, on purpose: both messages are in before anything reads them.
        await wait_until(lambda: len(ws.arrivals) == 2, 5, interval_s=0.001, what="arrivals")
        arrivals.extend(ws.arrivals)
        read_from.append(asyncio.get_running_loop().time())
        await run_session(ws, cast(RealtimeSession, session), TimerLateness())

    async with serve(handle, "127.0.0.1", 0, create_connection=StampedConnection) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", proxy=None) as client:
            await client.send(json.dumps({"type": "first"}))
            await client.send(json.dumps({"type": "second"}))
            await wait_until(lambda: len(session.received) == 2, 5, what="both handed in")
    assert [json.loads(m)["type"] for m, _ in session.received] == ["first", "second"]
    assert [now for _, now in session.received] == arrivals
    assert arrivals[0] <= arrivals[1] < read_from[0]
