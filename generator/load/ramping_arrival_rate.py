"""ramping-arrival-rate: the iteration rate moves linearly through stages (target = iterations
per timeUnit at the stage's end), starting from startRate; an open model (see arrival.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field, model_validator

from generator.load.arrival import ArrivalModel, ramp_offsets
from generator.load.ramping_vus import Stage


class RampingArrivalRate(ArrivalModel):
    executor: Literal["ramping-arrival-rate"] = "ramping-arrival-rate"
    startRate: float = Field(default=0.0, ge=0)
    stages: tuple[Stage, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> RampingArrivalRate:
        problems = self.arrival_problems()
        if any(s.duration <= 0 for s in self.stages):
            problems.append("every stage needs a positive duration")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def offsets(self) -> Iterator[float]:
        unit = self.timeUnit
        segments = [(s.duration, s.target / unit) for s in self.stages]
        return ramp_offsets(self.startRate / unit, segments)
