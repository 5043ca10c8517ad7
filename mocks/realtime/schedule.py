"""A session's schedule: the outputs it will send, each at its time, and the session's own
timers (the idle timeout, the maximum duration), in one heap ordered by time and then by the order
they were queued, so events queued for the same instant leave in the order they were made."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

from mocks.realtime.outputs import Output, Send


@dataclass
class Timer:
    """A deadline of the session itself; ``live`` False withdraws it without a heap search."""

    fire: Callable[[float], None]
    live: bool = True


Queued = Output | Timer


class Schedule:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Queued]] = []
        self._seq = 0

    def push(self, at: float, queued: Queued) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, queued))

    def pop_due(self, now: float) -> tuple[float, Queued] | None:
        """The next thing due by ``now`` and its time, or None; withdrawn timers are skipped."""
        while self._heap and self._heap[0][0] <= now:
            at, _, queued = heapq.heappop(self._heap)
            if not (isinstance(queued, Timer) and not queued.live):
                return at, queued
        return None

    def next_deadline(self) -> float | None:
        while self._heap and isinstance(top := self._heap[0][2], Timer) and not top.live:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def next_is_first_delta(self) -> bool:
        top = self._heap[0][2] if self._heap else None
        return isinstance(top, Send) and top.first_delta

    def withdraw(self, response_id: str) -> None:
        """Everything still pending of one response (a cancel), timers kept."""
        self._heap = [
            e for e in self._heap if isinstance(e[2], Timer) or e[2].response_id != response_id
        ]
        heapq.heapify(self._heap)

    def clear(self) -> None:
        self._heap.clear()
