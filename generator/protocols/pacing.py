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
    (True once every frame is out, False when frame ``k`` is handed back). ``n`` and ``fixed``
    (a `Repeat`'s one frame) are read once here: the tick reads them for every frame, and a
    `Repeat`'s ``len`` and indexing are Python calls."""

    __slots__ = ("done", "fixed", "frame_s", "frames", "k", "n", "on_lag", "t0", "write_now")

    def __init__(
        self,
        frames: Sequence[T],
        write_now: WriteNow[T],
        on_lag: LagSink | None,
        t0: float,
        frame_s: float,
        done: asyncio.Future[bool],
    ) -> None:
        self.frames, self.write_now, self.on_lag = frames, write_now, on_lag
        self.t0, self.frame_s, self.k, self.done = t0, frame_s, 0, done
        self.n = len(frames)
        self.fixed: Any = frames.frame if isinstance(frames, Repeat) else _VARIES


_VARIES: Any = object()  # a _Stream's `fixed` when its frames differ


class Pacer:
    """Every paced stream of one event loop (and one clock) behind a single timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Clock) -> None:
        self._loop, self._clock = loop, clock
        self._heap: list[tuple[float, int, _Stream[Any]]] = []
        self._order = 0  # ties on due time go first come, first served
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = float("inf")

    def add(self, stream: _Stream[Any]) -> None:
        due = stream.t0 + stream.k * stream.frame_s
        self._order += 1
        heapq.heappush(self._heap, (due, self._order, stream))
        if due < self._timer_due:
            self._arm(due)

    def _arm(self, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = self._loop.call_later(max(0.0, due - self._clock()), self._tick)

    def _tick(self) -> None:
        # Every frame of every call passes here (37,500 a second at 750 calls): one clock read
        # per frame serves its lag and the budget, and the send is written out in the loop.
        self._timer, self._timer_due = None, float("inf")
        heap, clock = self._heap, self._clock
        heappop, heappush = heapq.heappop, heapq.heappush
        now = clock()
        horizon, stop = now + SLACK_S, now + TICK_BUDGET_S
        try:
            while heap and heap[0][0] <= horizon:
                due, _order, stream = heappop(heap)
                done = stream.done
                if done.done():  # its coroutine was cancelled: drop it
                    continue
                k = stream.k
                try:
                    fixed = stream.fixed
                    frame = stream.frames[k] if fixed is _VARIES else fixed
                    if not stream.write_now(k, frame, due):
                        done.set_result(False)
                        continue
                    now = clock()
                    if stream.on_lag is not None:
                        stream.on_lag(now - due if now > due else 0.0)
                except Exception as exc:  # raised in the stream's coroutine, as its own send would
                    done.set_exception(exc)
                    continue
                stream.k = k = k + 1
                if k == stream.n:
                    done.set_result(True)
                else:
                    self._order = order = self._order + 1
                    heappush(heap, (stream.t0 + k * stream.frame_s, order, stream))
                if now > stop:  # behind: let the loop read sockets before the rest
                    break
        finally:
            if heap:
                self._arm(heap[0][0])


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
    on_lag: LagSink | None,
    frame_s: float = FRAME_S,
) -> float:
    """`send_paced`'s schedule and lags, driven by the loop's `Pacer`: each frame goes to
    ``write_now(k, frame, due)`` when due; one it declines (returns False) is sent with
    ``send`` from here, its lag taken once that returned. With ``on_lag`` None no lag is taken
    here (a stream that times only some of its frames takes their lags itself). Returns t0."""
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
        if on_lag is not None:
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


# RFC 6455 wants client masks unpredictable: os.urandom, as websockets itself masks, drawn 4 KiB
# at a time (one system call per 1,024 frames instead of one per frame). The mask changes no
# byte the server sees once unmasked, so it is no part of the seeded load.
_MASK_POOL = 4096
_HEAD_SHORT = struct.Struct("!BB4s")
_HEAD_16 = struct.Struct("!BBH4s")
_HEAD_64 = struct.Struct("!BBQ4s")


class _Masks:
    __slots__ = ("at", "pool")

    def __init__(self) -> None:
        self.pool, self.at = b"", _MASK_POOL

    def take(self) -> bytes:
        at = self.at
        if at >= len(self.pool):
            self.pool, at = os.urandom(_MASK_POOL), 0
        self.at = at + 4
        return self.pool[at : at + 4]


_masks = _Masks()


def _frame(data: bytes) -> bytes:
    """``data`` (UTF-8) as one masked text frame, header and all."""
    length, mask = len(data), _masks.take()
    if length < 126:
        head = _HEAD_SHORT.pack(0x81, 0x80 | length, mask)
    elif length < 65536:
        head = _HEAD_16.pack(0x81, 0xFE, length, mask)
    else:
        head = _HEAD_64.pack(0x81, 0xFF, length, mask)
    return head + apply_mask(data, mask)


def write_text(ws: Connection, data: bytes) -> None:
    """Write ``data`` (UTF-8) as one masked text frame straight to the transport; only once
    `ready` said so (the caller checks first, so it builds nothing it cannot send)."""
    ws.transport.write(_frame(data))


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
