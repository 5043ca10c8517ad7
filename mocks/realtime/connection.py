"""The I/O shell of one session: shuttles frames between a ``websockets`` connection and the
sans-I/O ``RealtimeSession``. It reads frames and hands them in with their time; a sender
task sends what falls due, sleeps until the session's next deadline or the next frame, and
carries out closes and TCP resets. Nothing here decides anything.

Timing. The sender sleeps on a bare ``call_at`` (``asyncio.wait_for`` would add loop turns to
cancel its inner wait). Before a response's first delta (the injected latency's end, which
callers measure) it wakes ahead by what the server's timers have been seen to run late
(timers.py), takes and encodes what falls due at the deadline, and spins the last stretch, a
loop turn at a time, with the cyclic collector held off until that delta is sent (at the
deadline only the socket writes are left): once per response, never for the paced deltas
after it, which stay up to a timer's lateness late (no caller's playback notices).

A message's time is when its last frame's bytes came in (``StampedConnection``), not when the
reader task next runs: the injected latency counts from a request's arrival, as a caller's clock
does, and a loop turn or a stall of this process before the reader runs is not added to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from asyncio import AbstractEventLoop
from collections import deque
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import DATA_OPCODES, Frame
from websockets.protocol import Event

from mocks.realtime.outputs import Close, Output, Reset, Send
from mocks.realtime.session import RealtimeSession
from mocks.realtime.timers import TimerLateness, hold_collector


class StampedConnection(ServerConnection):
    """A server connection that notes the loop's time as each message's last frame is parsed,
    in the protocol's callback (``run_session`` pairs the times with the messages)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: deque[float] = deque()

    def process_event(self, event: Event) -> None:
        super().process_event(event)
        if isinstance(event, Frame) and event.fin and event.opcode in DATA_OPCODES:
            self.arrivals.append(self.loop.time())


async def run_session(
    ws: ServerConnection, session: RealtimeSession, timers: TimerLateness
) -> None:
    """Serve ``session`` over ``ws`` until either side closes; ``timers`` is the server's
    record of how late its timers fire. A ``StampedConnection`` gives each message its
    arrival time; another connection, the time it is read."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    arrivals = ws.arrivals if isinstance(ws, StampedConnection) else None
    sender = asyncio.create_task(_send_loop(ws, session, wake, timers))
    try:
        async for message in ws:
            session.receive(message, arrivals.popleft() if arrivals else loop.time())
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
                # Taken and encoded ahead, so that at the deadline only the writes are left.
                # What comes due meanwhile (an event a message of the caller asks for) follows.
                encoded = _encode(session.due(deadline))
                await timers.spin_until(loop, deadline)
                hold.release_on_yield()  # the send may wait on a slow reader: not held then
                if not await _send(ws, session, loop, encoded):
                    return


Encoded = list[tuple[Output, str | None]]


def _encode(outputs: list[Output]) -> Encoded:
    return [(o, json.dumps(o.event) if isinstance(o, Send) else None) for o in outputs]


async def _send_due(
    ws: ServerConnection, session: RealtimeSession, loop: AbstractEventLoop
) -> bool:
    """Send what is due now; False once the connection is closed or reset."""
    return await _send(ws, session, loop, _encode(session.due(loop.time())))


async def _send(
    ws: ServerConnection, session: RealtimeSession, loop: AbstractEventLoop, encoded: Encoded
) -> bool:
    for output, text in encoded:
        if text is not None:  # a Send's, encoded
            await ws.send(text)
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
