"""The open-model engine shared by the two arrival-rate models, and their pure schedules.

Iterations start at scheduled times whatever the target does. A start needs a free VU: one of
preAllocatedVUs, or a new one while fewer than maxVUs exist; when none is free the iteration is
*dropped* and counted in `dropped_iterations`, never delayed — delaying would let a slow target
lower the load it gets (k6's rule). Each iteration's intended start is its scheduled time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Iterator, Sequence

from pydantic import Field, field_validator

from generator.load.base import LoadRun, ModelConfig
from generator.load.durations import parse_duration


def ramp_offsets(start_rate: float, segments: Sequence[tuple[float, float]]) -> Iterator[float]:
    """Arrival times (seconds from start) for a rate (per second) that moves linearly from
    ``start_rate`` through each (duration, end_rate) segment: arrival i is where the cumulative
    rate integral reaches i (so a constant rate r gives 0, 1/r, 2/r, ...)."""
    done, t0, r0, i = 0.0, 0.0, start_rate, 0
    for duration, r1 in segments:
        area = (r0 + r1) / 2 * duration
        while i < done + area - 1e-9:
            need = i - done
            if abs(r1 - r0) < 1e-12:
                x = need / r0
            else:
                k = (r1 - r0) / (2 * duration)
                x = (-r0 + math.sqrt(max(r0 * r0 + 4 * k * need, 0.0))) / (2 * k)
            yield t0 + x
            i += 1
        done, t0, r0 = done + area, t0 + duration, r1


def slice_arrivals(
    offsets: Iterable[float], part: Sequence[int] | None
) -> Iterator[tuple[int, float]]:
    """(number in the whole run, offset) of the arrivals slice ``part`` = (i, n) starts: every
    n-th of the whole schedule, so n slices together make exactly that schedule."""
    index, count = (part[0], part[1]) if part else (0, 1)
    for number, offset in enumerate(offsets):
        if number % count == index:
            yield number, offset


async def run_open(
    run: LoadRun,
    offsets: Iterable[float],
    pre_allocated: int,
    max_vus: int,
    grace_s: float,
    part: Sequence[int] | None = None,
) -> None:
    """Starts an iteration at each offset. With ``part`` = (i, n) this process is slice i of n
    and takes every n-th arrival of the whole schedule, numbered as in the whole run, so n
    slices together make exactly the schedule one process would (no rounding of rates)."""
    start = run.now()
    idle = list(range(pre_allocated - 1, -1, -1))
    allocated = pre_allocated
    tasks: set[asyncio.Task[None]] = set()

    async def one(vu: int, intended: float, number: int) -> None:
        run.vus += 1
        try:
            await run.iterate(vu, intended, number)
        finally:
            run.vus -= 1
            idle.append(vu)

    for number, offset in slice_arrivals(offsets, part):
        intended = start + offset
        if await run.sleep_until(intended):
            break
        if idle:
            vu = idle.pop()
        elif allocated < max_vus:
            vu, allocated = allocated, allocated + 1
        else:
            run.dropped(intended)
            continue
        task = asyncio.create_task(one(vu, intended, number))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await run.drain(set(tasks), grace_s)


class ArrivalModel(ModelConfig):
    """What the two arrival-rate models share: their VUs, time unit, slice and how they run."""

    timeUnit: float = 1.0
    preAllocatedVUs: int = Field(ge=1)
    maxVUs: int | None = Field(default=None, ge=1)
    # Set by --workers/--shard: this process runs arrivals i, i+n, i+2n, ... of the schedule.
    slice: tuple[int, int] | None = None

    # Named apart from ModelConfig's validator: a same-named one would replace it (pydantic),
    # and gracefulStop would stop accepting "30s".
    @field_validator("timeUnit", mode="before")
    @classmethod
    def _time_unit(cls, value: object) -> float:
        return parse_duration(value)

    def arrival_problems(self) -> list[str]:
        problems = []
        if self.timeUnit <= 0:
            problems.append("timeUnit must be positive")
        if self.maxVUs is not None and self.maxVUs < self.preAllocatedVUs:
            problems.append("maxVUs must be at least preAllocatedVUs")
        return problems

    @property
    def max_vus(self) -> int:
        return self.maxVUs or self.preAllocatedVUs

    def offsets(self) -> Iterator[float]:
        raise NotImplementedError

    async def execute(self, run: LoadRun) -> None:
        await run_open(
            run, self.offsets(), self.preAllocatedVUs, self.max_vus, self.gracefulStop, self.slice
        )
