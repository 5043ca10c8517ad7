"""Sending audio at the pace a phone line would: frame k is due at t0 + k × 20 ms.

The schedule is absolute, so a late frame does not push the ones after it (no drift); a frame
that is late is sent at once, and how late it went out (`send_lag`) is reported per frame. A
generator that cannot keep this schedule is measuring itself, not the target, and the lag says so.

Two ways to keep it:

- `send_paced`: one coroutine per stream, sleeping until each frame is due. Simple, and the way
  for protocols whose frames are few or whose send must await.
- `play_paced`: every stream of the event loop on one `Pacer` — a heap of streams by due time and
  one timer for the earliest — that hands each due frame to a synchronous ``write_now``. At 500
  calls that is 25,000 frames a second; a sleep and a task wake-up per frame cost ~6 µs each
  (a third of the budget), the pacer's heap step well under 1 µs. A frame ``write_now`` cannot
  take without waiting (the transport's buffer is full, the connection closing) goes back to
  the stream's own coroutine, which sends it with the awaiting ``send`` and then rejoins.

`ready` and `write_text` make such a ``write_now`` for a websockets connection: the frame is built
here (header, mask, payload masked by websockets' C helper) and written to the transport,
skipping websockets' send context (an async context manager and a `Frame` object per message,
~4 µs). It only does so while nothing could need that context: the connection open, no
extension, no fragmented send in progress, the transport not paused and not closing.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import struct
import sys
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from websockets.asyncio.connection import Connection
from websockets.protocol import OPEN

from generator.audio import FRAME_MS
from generator.protocols.base import Clock, LagSink

try:  # websockets' C helper, as its own frames use; the pure-Python one where it was not built
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

T = TypeVar("T")

FRAME_S = FRAME_MS / 1000.0
# Timers fire on whole milliseconds (libuv), so a frame due within this much of now goes out in
# this batch rather than in a wake-up of its own a fraction of a millisecond later.
SLACK_S = 0.001
# A tick that finds more due frames than it can send in this long (the generator is behind)
# sends the rest after one turn of the loop, so replies are still read (and timed) meanwhile.
TICK_BUDGET_S = 0.005

SendFrame = Callable[[int, T, float], Awaitable[None]]
WriteNow = Callable[[int, T, float], bool]


async def send_paced(
    frames: Sequence[T],
    send: SendFrame[T],
    *,
    clock: Clock,
    on_lag: LagSink,
    frame_s: float = FRAME_S,
) -> float:
    """Call ``send(k, frame, due)`` for each frame at its due time; returns t0.

    The lag is taken once ``send`` has returned: a frame is sent when the transport took it, and
    a send that waits on a full buffer is the generator (or the target) falling behind.
    """
    t0 = clock()
    for k, frame in enumerate(frames):
        due = t0 + k * frame_s
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(k, frame, due)
        on_lag(max(0.0, clock() - due))
    return t0


class Repeat(Sequence[T]):
    """An endless line of one frame (a caller's silence), for `send_paced` or a `Pacer`: it ends
    only when its sender is cancelled."""

    def __init__(self, frame: T) -> None:
        self.frame = frame

    def __len__(self) -> int:
        return sys.maxsize

    @overload
    def __getitem__(self, k: int) -> T: ...
    @overload
    def __getitem__(self, k: slice) -> Sequence[T]: ...
    def __getitem__(self, k: int | slice) -> T | Sequence[T]:
        return self.frame

    def __iter__(self) -> Iterator[T]:
        while True:
            yield self.frame


class _Stream(Generic[T]):
    """One stream on the pacer: its frames, where it is, and the future its coroutine awaits
    (True once every frame is out, False when frame ``k`` is handed back)."""

    __slots__ = ("done", "frame_s", "frames", "k", "on_lag", "t0", "write_now")

    def __init__(
        self,
        frames: Sequence[T],
        write_now: WriteNow[T],
        on_lag: LagSink,
        t0: float,
        frame_s: float,
        done: asyncio.Future[bool],
    ) -> None:
        self.frames, self.write_now, self.on_lag = frames, write_now, on_lag
        self.t0, self.frame_s, self.k, self.done = t0, frame_s, 0, done


class Pacer:
    """Every paced stream of one event loop (and one clock) behind a single timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Clock) -> None:
        self._loop, self._clock = loop, clock
        self._heap: list[tuple[float, int, _Stream[Any]]] = []
        self._order = itertools.count()  # ties on due time go first come, first served
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = float("inf")

    def add(self, stream: _Stream[Any]) -> None:
        due = stream.t0 + stream.k * stream.frame_s
        heapq.heappush(self._heap, (due, next(self._order), stream))
        if due < self._timer_due:
            self._arm(due)

    def _arm(self, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = self._loop.call_later(max(0.0, due - self._clock()), self._tick)

    def _tick(self) -> None:
        self._timer, self._timer_due = None, float("inf")
        heap, clock = self._heap, self._clock
        started = clock()
        horizon, stop = started + SLACK_S, started + TICK_BUDGET_S
        try:
            while heap and heap[0][0] <= horizon:
                due, _order, stream = heapq.heappop(heap)
                if not stream.done.done():  # else its coroutine was cancelled: drop it
                    self._send(stream, due)
                if clock() > stop:  # behind: let the loop read sockets before the rest
                    break
        finally:
            if heap:
                self._arm(heap[0][0])

    def _send(self, stream: _Stream[Any], due: float) -> None:
        k = stream.k
        try:
            if not stream.write_now(k, stream.frames[k], due):
                stream.done.set_result(False)
                return
            stream.on_lag(max(0.0, self._clock() - due))
        except Exception as exc:  # raised in the stream's coroutine, as its own send would
            stream.done.set_exception(exc)
            return
        stream.k = k = k + 1
        if k == len(stream.frames):
            stream.done.set_result(True)
        else:
            heapq.heappush(self._heap, (stream.t0 + k * stream.frame_s, next(self._order), stream))


_pacers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Clock, Pacer]] = (
    weakref.WeakKeyDictionary()
)


def pacer_for(clock: Clock) -> Pacer:
    """The running loop's pacer for ``clock`` (made on first use, gone with the loop)."""
    loop = asyncio.get_running_loop()
    by_clock = _pacers.setdefault(loop, {})
    pacer = by_clock.get(clock)
    if pacer is None:
        pacer = by_clock[clock] = Pacer(loop, clock)
    return pacer


async def play_paced(
    frames: Sequence[T],
    write_now: WriteNow[T],
    send: SendFrame[T],
    *,
    clock: Clock,
    on_lag: LagSink,
    frame_s: float = FRAME_S,
) -> float:
    """`send_paced`'s schedule and lags, driven by the loop's `Pacer`: each frame goes to
    ``write_now(k, frame, due)`` when due; one it declines (returns False) is sent with
    ``send`` from here, its lag taken once that returned. Returns t0."""
    t0 = clock()
    pacer = pacer_for(clock)
    loop = asyncio.get_running_loop()
    k = 0
    while k < len(frames):
        stream = _Stream(frames, write_now, on_lag, t0, frame_s, loop.create_future())
        stream.k = k
        pacer.add(stream)
        if await stream.done:
            return t0
        k = stream.k
        due = t0 + k * frame_s
        await send(k, frames[k], due)
        on_lag(max(0.0, clock() - due))
        k += 1
    return t0


def ready(ws: Connection) -> bool:
    """Whether a frame can go straight to ``ws``'s transport: open, no extension to encode it,
    no fragmented send under way, the transport neither paused (its buffer full: that wait is
    websockets' send's to do, and the lag's to show) nor closing."""
    return (
        ws.protocol.state is OPEN
        and not ws.protocol.extensions
        and not ws.paused
        and ws.fragmented_send_waiter is None
        and not ws.transport.is_closing()
    )


def write_text(ws: Connection, data: bytes) -> None:
    """Write ``data`` (UTF-8) as one masked text frame straight to the transport; only once
    `ready` said so (the caller checks first, so it builds nothing it cannot send)."""
    length = len(data)
    if length < 126:
        head = struct.pack("!BB", 0x81, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x81, 0xFE, length)
    else:
        head = struct.pack("!BBQ", 0x81, 0xFF, length)
    # RFC 6455 wants client masks unpredictable; os.urandom, as websockets itself masks. The mask
    # changes no byte the server sees once unmasked, so it is no part of the seeded load.
    mask = os.urandom(4)
    ws.transport.write(head + mask + apply_mask(data, mask))


__all__ = [
    "FRAME_S",
    "Pacer",
    "Repeat",
    "pacer_for",
    "play_paced",
    "ready",
    "send_paced",
    "write_text",
]
