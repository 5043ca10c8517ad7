"""How late this process's timers fire, learned as they fire, and how far ahead of a precise
deadline to wake so that a spin covers the rest.

asyncio's timers fire late by what the machine adds: epoll takes its timeout in whole
milliseconds, rounded up, and a virtual machine may take a millisecond or more to wake an idle
vCPU. A fixed head start of 1.1 ms held a fixed 300 ms latency within ±2 ms on one machine and
missed it on another (CI: the fake's own p50 300.8 ms, p99 303.9 ms, so its wake-ups there came
up to ~5 ms after their time). So every timer the sender arms records its lateness, and the head
start is the largest lateness of the last ``WINDOW`` timers plus a little, between ``FLOOR_S``
and ``CAP_S``: about 1.1 ms where timers are prompt, more where they are not, never unbounded.

The spin is cooperative (a loop turn per step, not a busy ``while``): other sessions' frames
keep flowing while one waits out its last stretch, so a head start of a few milliseconds costs
CPU, not other calls' timing. That CPU is budgeted: past ``BUDGET_S`` of spinning in a second
(hundreds of responses a second, as under a drill's load, where the generator shares the cores)
the head start drops to the floor for the rest of that second, trading the last millisecond of
precision for the machine's cores.

The cyclic collector is held off from the wake-up to the first delta's send (`hold_collector`):
a generation-1 collection in the fake takes 1-2.6 ms (a response's whole timeline, every event
of it, is built when it starts and survives into generation 1), and one landing in that stretch
made the delta as late as the collection was long, whatever the head start. Deferred by a few
milliseconds, it runs just after the send.
"""

from __future__ import annotations

import asyncio
import gc
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

FLOOR_S = 0.0011  # epoll's millisecond ceiling and a loop turn
CAP_S = 0.006
HEADROOM_S = 0.0003
WINDOW = 64
START_S = 0.003  # until a quarter of the window has been seen
BUDGET_S = 0.05  # of spinning beyond the floor, per second of the loop's clock


class TimerLateness:
    """The lateness of the last ``WINDOW`` timers armed through it, shared by every session of
    one server (they share one loop, so one machine's lateness)."""

    def __init__(self) -> None:
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._second = 0
        self._spent_s = 0.0

    def observe(self, late_s: float) -> None:
        self._recent.append(max(0.0, late_s))

    @property
    def recent(self) -> tuple[float, ...]:
        return tuple(self._recent)

    @property
    def learned_s(self) -> float:
        """The head start the timers' lateness asks for, budget aside."""
        if len(self._recent) < WINDOW // 4:
            return START_S
        return min(CAP_S, max(FLOOR_S, max(self._recent) + HEADROOM_S))

    def head_start(self, now: float) -> float:
        """How far ahead of a precise deadline to wake at ``now``."""
        wanted = self.learned_s
        if wanted > FLOOR_S and self._spent(now) + wanted > BUDGET_S:
            return FLOOR_S
        return wanted

    def call_at(
        self, loop: asyncio.AbstractEventLoop, when: float, callback: Callable[[], None]
    ) -> asyncio.TimerHandle:
        """``loop.call_at(when, callback)``, recording how late it fires."""

        def fire() -> None:
            self.observe(loop.time() - when)
            callback()

        return loop.call_at(when, fire)

    async def spin_until(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Wait for ``deadline`` on the loop's clock a loop turn at a time, counting the
        stretch beyond the floor against this second's budget."""
        self.charge(loop.time(), deadline)
        # A loop turn per step, on purpose: an Event would put the wake back on a timer.
        while loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0)

    def charge(self, start: float, deadline: float) -> None:
        """Count a spin from ``start`` to ``deadline`` against the budget of ``start``'s second."""
        self._spent(start)
        self._spent_s += max(0.0, deadline - start - FLOOR_S)

    def _spent(self, now: float) -> float:
        second = int(now)
        if second != self._second:
            self._second, self._spent_s = second, 0.0
        return self._spent_s


class _Holds:
    """The count of holds on the cyclic collector: one for the process, as the collector is, so
    that several servers in one process (the tests run some) nest theirs too."""

    count = 0
    disabled = False  # whether the first hold turned the collector off (it may have been off)


class CollectorHold:
    """One hold: ``release`` ends it (once; later calls do nothing)."""

    def __init__(self) -> None:
        self._held = True
        if _Holds.count == 0 and gc.isenabled():
            gc.disable()
            _Holds.disabled = True
        _Holds.count += 1

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        _Holds.count -= 1
        if _Holds.count == 0 and _Holds.disabled:
            _Holds.disabled = False
            gc.enable()

    def release_on_yield(self) -> None:
        """End the hold at the latest when the holding task next yields to the loop: a send
        that waits on a full buffer (a slow reader) must not keep the collector off meanwhile."""
        asyncio.get_running_loop().call_soon(self.release)


@contextmanager
def hold_collector() -> Iterator[CollectorHold]:
    """No cyclic collection inside: the first of overlapping holds turns the collector off (if
    it was on), the last one out turns it back on."""
    hold = CollectorHold()
    try:
        yield hold
    finally:
        hold.release()
