"""constant-arrival-rate: ``rate`` iterations per ``timeUnit`` for ``duration``, whatever the
target does (an open model; see arrival.py for VUs and dropped iterations)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field, field_validator, model_validator

from generator.load.arrival import ramp_offsets, run_open
from generator.load.base import LoadRun, ModelConfig
from generator.load.durations import parse_duration


class ConstantArrivalRate(ModelConfig):
    executor: Literal["constant-arrival-rate"] = "constant-arrival-rate"
    rate: float = Field(gt=0)
    timeUnit: float = 1.0
    duration: float
    preAllocatedVUs: int = Field(ge=1)
    maxVUs: int | None = Field(default=None, ge=1)
    # Set by --workers/--shard: this process runs arrivals i, i+n, i+2n, ... of the schedule.
    slice: tuple[int, int] | None = None

    @field_validator("timeUnit", "duration", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _consistent(self) -> ConstantArrivalRate:
        problems = []
        if self.timeUnit <= 0:
            problems.append("timeUnit must be positive")
        if self.duration <= 0:
            problems.append("duration must be positive")
        if self.maxVUs is not None and self.maxVUs < self.preAllocatedVUs:
            problems.append("maxVUs must be at least preAllocatedVUs")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def max_vus(self) -> int:
        return self.maxVUs or self.preAllocatedVUs

    def offsets(self) -> Iterator[float]:
        per_s = self.rate / self.timeUnit
        return ramp_offsets(per_s, [(self.duration, per_s)])

    async def execute(self, run: LoadRun) -> None:
        await run_open(
            run, self.offsets(), self.preAllocatedVUs, self.max_vus, self.gracefulStop, self.slice
        )
