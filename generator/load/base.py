"""What every load model shares: the handle a model runs against, and draining at the end.

A model only decides timing. It calls ``LoadRun.iterate(vu, iteration, intended_start)`` and the
runner's body does the work; the model never sees a workload. Time comes from ``Timeline`` (clock
and sleep), so tests can run schedules against a fake clock.

Two stop signals: ``stop`` (abort on threshold or Ctrl-C: start nothing new) and ``hard_stop``
(Ctrl-C: also cancel what runs instead of letting it finish within gracefulStop).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, field_validator

from generator.load.durations import parse_duration
from generator.metrics.store import MetricsStore

Body = Callable[[int, int, float], Awaitable[None]]
POLL_S = 0.05


@dataclass(frozen=True)
class Timeline:
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


@dataclass
class LoadRun:
    """A load model's view of the run: where iterations go, time, stop signals, bookkeeping."""

    body: Body
    store: MetricsStore
    workload: str
    timeline: Timeline = field(default_factory=Timeline)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    hard_stop: asyncio.Event = field(default_factory=asyncio.Event)
    vus: int = 0  # VUs busy right now (closed models: VUs alive), sampled into the `vus` gauge
    started: int = 0

    def now(self) -> float:
        return self.timeline.clock()

    async def iterate(self, vu: int, intended_start: float, iteration: int | None = None) -> None:
        """Runs one iteration; ``iteration`` is its number in the whole run when the model knows
        it (a slice of an open model does), else the count of iterations started here."""
        number = self.started if iteration is None else iteration
        self.started += 1
        await self.body(vu, number, intended_start)

    def dropped(self, at: float) -> None:
        self.store.add_counter("dropped_iterations", 1, {"workload": self.workload}, at=at)

    async def sleep_until(self, deadline: float) -> bool:
        """Waits until ``deadline``; True if the run was told to stop meanwhile."""
        while not self.stop.is_set():
            left = deadline - self.now()
            if left <= 0:
                return False
            await self.timeline.sleep(min(left, POLL_S))
        return True

    async def wait_tasks(
        self, tasks: set[asyncio.Task[None]], deadline: float, stop: asyncio.Event
    ) -> set[asyncio.Task[None]]:
        """Waits until every task is done, ``deadline`` passes or ``stop`` is set, on the
        timeline's clock; returns the tasks still pending."""
        pending = {t for t in tasks if not t.done()}
        while pending and not stop.is_set():
            left = deadline - self.now()
            if left <= 0:
                break
            tick = asyncio.ensure_future(self.timeline.sleep(min(left, POLL_S)))
            await asyncio.wait(pending | {tick}, return_when=asyncio.FIRST_COMPLETED)
            if not tick.done():
                tick.cancel()
                await asyncio.gather(tick, return_exceptions=True)
            pending = {t for t in pending if not t.done()}
        return pending

    async def drain(self, tasks: set[asyncio.Task[None]], grace_s: float) -> None:
        """Lets running iterations finish within ``grace_s`` (none on hard stop), then cancels."""
        pending = await self.wait_tasks(tasks, self.now() + grace_s, self.hard_stop)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class ModelConfig(BaseModel):
    """Fields every model has. Durations accept `30s`, `1m30s` or seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    gracefulStop: float = 30.0

    @field_validator("gracefulStop", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)


def floor_eps(value: float) -> int:
    """floor that forgives float error (9.999999 → 10)."""
    return math.floor(value + 1e-9)
