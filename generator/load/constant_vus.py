"""constant-vus: a fixed number of VUs, each looping iterations back to back (a closed model:
a slow target slows the arrivals). Ends after ``duration``, or after ``iterations`` per VU."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field, field_validator, model_validator

from generator.load.base import LoadRun, ModelConfig
from generator.load.durations import parse_duration


class ConstantVUs(ModelConfig):
    executor: Literal["constant-vus"] = "constant-vus"
    vus: int = Field(ge=1)
    duration: float | None = None
    iterations: int | None = Field(default=None, ge=1)  # per VU

    @field_validator("duration", mode="before")
    @classmethod
    def _run_duration(cls, value: object) -> float | None:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _bounded(self) -> ConstantVUs:
        if self.duration is None and self.iterations is None:
            raise ValueError("needs duration or iterations (or both)")
        return self

    @property
    def max_vus(self) -> int:
        return self.vus

    async def execute(self, run: LoadRun) -> None:
        start = run.now()
        end = start + self.duration if self.duration is not None else float("inf")

        async def vu_loop(vu: int) -> None:
            run.vus += 1
            try:
                done = 0
                while not run.stop.is_set() and run.now() < end:
                    if self.iterations is not None and done >= self.iterations:
                        return
                    await run.iterate(vu, run.now())
                    done += 1
            finally:
                run.vus -= 1

        tasks = {asyncio.create_task(vu_loop(vu)) for vu in range(self.vus)}
        await run.wait_tasks(tasks, end, run.stop)
        await run.drain(tasks, self.gracefulStop)
