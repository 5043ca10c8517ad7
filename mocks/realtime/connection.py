"""The I/O shell of one session: shuttles frames between a ``websockets`` connection and the
sans-I/O ``RealtimeSession``. It reads frames and hands them in with the loop's time; a sender
task sends what falls due, sleeps until the session's next deadline or the next frame, and
carries out closes and TCP resets. Nothing here decides anything.

Timing. The sender sleeps on a bare ``call_at`` (``asyncio.wait_for`` would add loop turns to
cancel its inner wait). Before a response's first delta (the injected latency's end, which
callers measure) it wakes ahead by what the server's timers have been seen to run late
(timers.py) and spins the last stretch, a loop turn at a time, with the cyclic collector held
off until that delta is sent: once per response, never for the paced deltas after it, which stay
up to a timer's lateness late (no caller's playback notices).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from asyncio import AbstractEventLoop

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from mocks.realtime.outputs import Close, Reset, Send
from mocks.realtime.session import RealtimeSession
from mocks.realtime.timers import TimerLateness, hold_collector


async def run_session(
    ws: ServerConnection, session: RealtimeSession, timers: TimerLateness
) -> None:
    """Serve ``session`` over ``ws`` until either side closes; ``timers`` is the server's
    record of how late its timers fire."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    sender = asyncio.create_task(_send_loop(ws, session, wake, timers))
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


async def _send_loop(
    ws: ServerConnection, session: RealtimeSession, wake: asyncio.Event, timers: TimerLateness
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        wake.clear()
        if not await _send_due(ws, session, loop):
            return
        deadline = session.next_deadline()
        if deadline is None:
            await wake.wait()
            continue
        head_start = timers.head_start(loop.time()) if session.next_is_first_delta() else 0.0
        timer = timers.call_at(loop, deadline - head_start, wake.set)
        try:
            await wake.wait()
        finally:
            timer.cancel()
        if head_start and deadline - loop.time() <= head_start:
            with hold_collector() as hold:
                await timers.spin_until(loop, deadline)
                hold.release_on_yield()  # the send may wait on a slow reader: not held then
                if not await _send_due(ws, session, loop):
                    return


async def _send_due(
    ws: ServerConnection, session: RealtimeSession, loop: AbstractEventLoop
) -> bool:
    """Send what is due now; False once the connection is closed or reset."""
    for output in session.due(loop.time()):
        if isinstance(output, Send):
            await ws.send(json.dumps(output.event))
            session.sent(output, loop.time())
        elif isinstance(output, Close):
            await ws.close(output.code, output.reason)
            return False
        elif isinstance(output, Reset):
            _reset(ws)
            return False
    return True


def _reset(ws: ServerConnection) -> None:
    """Kill the TCP connection with an RST (SO_LINGER 0), as a crashed proxy would."""
    transport = ws.transport
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
