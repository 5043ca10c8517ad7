"""The I/O shell of one session: shuttles frames between a ``websockets`` connection and the
sans-I/O ``RealtimeSession``. It reads frames and hands them in with the loop's time; a sender
task sends what falls due, sleeps until the session's next deadline or the next frame, and
carries out closes and TCP resets. Nothing here decides anything.

Timing. asyncio's timers run late: epoll takes its timeout in whole milliseconds, rounded up,
and ``asyncio.wait_for`` adds loop turns to cancel its inner wait, so "fixed 300 ms" left after
300.8-302 ms before anything else was busy. The sender therefore sleeps on a bare ``call_at``
(no ``wait_for``), and before a response's first delta (the injected latency's end, which callers
measure) it wakes ``EARLY_S`` ahead and spins the last stretch on the loop's clock: at most that
long, once per response, never for the paced deltas after it. As epoll wakes between the target
and a millisecond after it, the spin averages about half a millisecond of CPU per response (some
9 % of a core at 170 responses a second, 500 calls); the paced deltas stay up to 1 ms late, which
no caller's playback notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from mocks.realtime.outputs import Close, Reset, Send
from mocks.realtime.session import RealtimeSession


async def run_session(ws: ServerConnection, session: RealtimeSession) -> None:
    """Serve ``session`` over ``ws`` until either side closes."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    sender = asyncio.create_task(_send_loop(ws, session, wake))
    try:
        async for message in ws:
            session.receive(message, loop.time())
            wake.set()
    except ConnectionClosed:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
            await sender
        code = ws.close_code
        session.connection_closed(code)


EARLY_S = 0.0011  # epoll's millisecond ceiling and a loop turn


async def _send_loop(ws: ServerConnection, session: RealtimeSession, wake: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while True:
        wake.clear()
        for output in session.due(loop.time()):
            if isinstance(output, Send):
                await ws.send(json.dumps(output.event))
                session.sent(output, loop.time())
            elif isinstance(output, Close):
                await ws.close(output.code, output.reason)
                return
            elif isinstance(output, Reset):
                _reset(ws)
                return
        deadline = session.next_deadline()
        if deadline is None:
            await wake.wait()
            continue
        precise = session.next_is_first_delta()
        timer = loop.call_at(deadline - EARLY_S if precise else deadline, wake.set)
        try:
            await wake.wait()
        finally:
            timer.cancel()
        if precise and deadline - loop.time() <= EARLY_S:
            _spin_until(loop, deadline)


def _spin_until(loop: asyncio.AbstractEventLoop, deadline: float) -> None:
    """Busy-wait the last stretch (at most EARLY_S) to ``deadline`` on the loop's clock."""
    while loop.time() < deadline:
        pass


def _reset(ws: ServerConnection) -> None:
    """Kill the TCP connection with an RST (SO_LINGER 0), as a crashed proxy would."""
    transport = ws.transport
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
