"""ramping-arrival-rate: the iteration rate moves linearly through stages (target = iterations
per timeUnit at the stage's end), starting from startRate; an open model (see arrival.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field, field_validator, model_validator

from generator.load.arrival import ramp_offsets, run_open
from generator.load.base import LoadRun, ModelConfig
from generator.load.durations import parse_duration
from generator.load.ramping_vus import Stage


class RampingArrivalRate(ModelConfig):
    executor: Literal["ramping-arrival-rate"] = "ramping-arrival-rate"
    startRate: float = Field(default=0.0, ge=0)
    timeUnit: float = 1.0
    stages: tuple[Stage, ...] = Field(min_length=1)
    preAllocatedVUs: int = Field(ge=1)
    maxVUs: int | None = Field(default=None, ge=1)
    # Set by --workers/--shard: this process runs arrivals i, i+n, i+2n, ... of the schedule.
    slice: tuple[int, int] | None = None

    @field_validator("timeUnit", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _consistent(self) -> RampingArrivalRate:
        problems = []
        if self.timeUnit <= 0:
            problems.append("timeUnit must be positive")
        if any(s.duration <= 0 for s in self.stages):
            problems.append("every stage needs a positive duration")
        if self.maxVUs is not None and self.maxVUs < self.preAllocatedVUs:
            problems.append("maxVUs must be at least preAllocatedVUs")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def max_vus(self) -> int:
        return self.maxVUs or self.preAllocatedVUs

    def offsets(self) -> Iterator[float]:
        unit = self.timeUnit
        segments = [(s.duration, s.target / unit) for s in self.stages]
        return ramp_offsets(self.startRate / unit, segments)

    async def execute(self, run: LoadRun) -> None:
        await run_open(
            run, self.offsets(), self.preAllocatedVUs, self.max_vus, self.gracefulStop, self.slice
        )
