"""What a workload is, as the load models and the runner see it.

A workload (calls, HTTP mix, webhook storm, connection capacity) is one kind of traffic. The load
model decides *when* and *on which virtual user* an iteration starts; the workload decides what one
iteration does and records what it saw in the metrics store. Keeping the two apart is what lets
any workload run under any load model (k6's executor / script split).
"""

from __future__ import annotations

import random
from typing import Protocol

from generator.metrics.store import MetricsStore


class IterationContext:
    """Everything one iteration gets from the load model.

    ``intended_start`` is the clock time (time.monotonic seconds) at which the iteration was meant
    to start. In open models (arrival rates) that is the scheduled time, which may be earlier than
    the actual start when the generator lags: latencies count from it, so a slow target is not
    hidden by a slow generator (no coordinated omission).

    ``rng`` is the iteration's own seeded generator. The runner gives a seed rather than a
    generator, and the generator is made on first use: seeding a `random.Random` costs ~5 µs and
    2.5 kB, a good part of a fast HTTP request, and many iterations draw nothing.
    """

    __slots__ = ("_rng", "_seed", "intended_start", "iteration", "store", "vu")

    def __init__(
        self,
        vu: int,
        iteration: int,
        intended_start: float,
        store: MetricsStore,
        rng: random.Random | None = None,
        *,
        seed: str | None = None,
    ) -> None:
        if (rng is None) == (seed is None):
            raise ValueError("give an IterationContext exactly one of rng or seed")
        self.vu = vu
        self.iteration = iteration
        self.intended_start = intended_start
        self.store = store
        self._rng = rng
        self._seed = seed

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self._seed)
        return self._rng


class Workload(Protocol):
    """One kind of traffic. ``iteration`` must not raise for target failures: it records them."""

    name: str

    async def setup(self) -> None:
        """Check the target and prepare; may raise generator.errors.TargetUnreachable."""

    async def iteration(self, ctx: IterationContext) -> None:
        """Do one unit of work (one call, one request) and record what happened."""

    async def teardown(self) -> None:
        """Release what setup took."""
