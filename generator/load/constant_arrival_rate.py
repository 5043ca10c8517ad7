"""constant-arrival-rate: ``rate`` iterations per ``timeUnit`` for ``duration``, whatever the
target does (an open model; see arrival.py for VUs and dropped iterations)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field, field_validator, model_validator

from generator.load.arrival import ArrivalModel, ramp_offsets
from generator.load.durations import parse_duration


class ConstantArrivalRate(ArrivalModel):
    executor: Literal["constant-arrival-rate"] = "constant-arrival-rate"
    rate: float = Field(gt=0)
    duration: float

    @field_validator("duration", mode="before")
    @classmethod
    def _run_duration(cls, value: object) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _consistent(self) -> ConstantArrivalRate:
        problems = self.arrival_problems()
        if self.duration <= 0:
            problems.append("duration must be positive")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def offsets(self) -> Iterator[float]:
        per_s = self.rate / self.timeUnit
        return ramp_offsets(per_s, [(self.duration, per_s)])
