"""shared-iterations: ``iterations`` in total, shared by ``vus`` VUs that each take the next one
as soon as they are free. `--calls N` is N iterations on N VUs (N calls at once); an HTTP
`--requests 100 --concurrency 10` is 100 on 10. Ends when all are done or after maxDuration."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field, field_validator, model_validator

from generator.load.base import LoadRun, ModelConfig
from generator.load.durations import parse_duration


class SharedIterations(ModelConfig):
    executor: Literal["shared-iterations"] = "shared-iterations"
    vus: int = Field(default=1, ge=1)
    iterations: int = Field(ge=1)
    maxDuration: float = 1800.0

    @field_validator("maxDuration", mode="before")
    @classmethod
    def _max_duration(cls, value: object) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _enough_work(self) -> SharedIterations:
        if self.vus > self.iterations:
            raise ValueError(f"vus ({self.vus}) must not exceed iterations ({self.iterations})")
        return self

    @property
    def max_vus(self) -> int:
        return self.vus

    async def execute(self, run: LoadRun) -> None:
        end = run.now() + self.maxDuration
        left = self.iterations

        async def vu_loop(vu: int) -> None:
            nonlocal left
            run.vus += 1
            try:
                while left > 0 and not run.stop.is_set() and run.now() < end:
                    left -= 1
                    await run.iterate(vu, run.now())
            finally:
                run.vus -= 1

        tasks = {asyncio.create_task(vu_loop(vu)) for vu in range(self.vus)}
        await run.wait_tasks(tasks, end, run.stop)
        await run.drain(tasks, self.gracefulStop)
