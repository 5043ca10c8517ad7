"""ramping-vus: the number of VUs follows stages, k6-style — each stage moves linearly from the
previous target to its own over its duration, starting from startVUs. VUs above the target finish
their current iteration and then stop (graceful ramp-down). The target is a pure function of
elapsed time (`target_at`), as locust's LoadTestShape.tick()."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from generator.load.base import LoadRun, ModelConfig, floor_eps
from generator.load.durations import parse_duration

TICK_S = 0.1


class Stage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    duration: float
    target: int = Field(ge=0)

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)


class RampingVUs(ModelConfig):
    executor: Literal["ramping-vus"] = "ramping-vus"
    startVUs: int = Field(default=0, ge=0)
    stages: tuple[Stage, ...] = Field(min_length=1)

    @property
    def max_vus(self) -> int:
        return max([self.startVUs, *(s.target for s in self.stages)])

    @property
    def total_s(self) -> float:
        return sum(s.duration for s in self.stages)

    def target_at(self, elapsed: float) -> int:
        level, start = float(self.startVUs), 0.0
        for stage in self.stages:
            if elapsed < start + stage.duration:
                frac = (elapsed - start) / stage.duration
                return floor_eps(level + (stage.target - level) * frac)
            level, start = float(stage.target), start + stage.duration
        return int(level)

    async def execute(self, run: LoadRun) -> None:
        start = run.now()
        end = start + self.total_s
        target = self.target_at(0.0)
        alive: dict[int, asyncio.Task[None]] = {}

        async def vu_loop(vu: int) -> None:
            run.vus += 1
            try:
                while vu < target and not run.stop.is_set() and run.now() < end:
                    await run.iterate(vu, run.now())
            finally:
                run.vus -= 1

        while True:
            target = self.target_at(run.now() - start)
            for vu in range(target):
                if vu not in alive or alive[vu].done():
                    alive[vu] = asyncio.create_task(vu_loop(vu))
            if await run.sleep_until(min(end, run.now() + TICK_S)) or run.now() >= end:
                break
        await run.drain(set(alive.values()), self.gracefulStop)
