"""The fault draws of one response, in a fixed order, from the session's seeded RNG: which faults
fire and with what values. The session state machine then only follows the plan.

The order never depends on which faults are on: every kind's roll consumes one draw (probability 0
when off), so switching a fault on or off changes that fault only, never the others' draws.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from mocks.faults import roll
from mocks.realtime.faults import FaultsConfig

DropMode = Literal["close_1011", "reset"]


@dataclass(frozen=True)
class ResponsePlan:
    """What happens to one response. ``fired`` lists the faults that took effect, in draw order."""

    latency_ms: float = 0.0
    rate_limited: bool = False
    stalled: bool = False
    drop: DropMode | None = None
    drop_at: float = 0.5  # fraction of the response's deltas sent before the drop
    slow_factor: float = 1.0
    fired: tuple[str, ...] = field(default=())


HEALTHY = ResponsePlan()


def draw_response_plan(faults: FaultsConfig, rng: random.Random) -> ResponsePlan:
    """The plan of one response; consumes the same number of draws for the same config."""
    rate_limited = roll(rng, faults.rate_limit.probability if faults.rate_limit else 0.0)
    stalled = roll(rng, faults.stall.probability if faults.stall else 0.0)
    latency_on = roll(rng, faults.latency.probability if faults.latency else 0.0)
    latency_ms = faults.latency.sample_ms(rng) if faults.latency and latency_on else 0.0
    dropped = roll(rng, faults.drop.probability if faults.drop else 0.0)
    drop_at = rng.random()
    slowed = roll(rng, faults.slow_audio.probability if faults.slow_audio else 0.0)
    if rate_limited:
        return ResponsePlan(rate_limited=True, fired=("rate_limit",))
    if stalled:
        return ResponsePlan(stalled=True, fired=("stall",))
    fired: list[str] = []
    if latency_on and faults.latency:
        fired.append("latency")
    drop: DropMode | None = None
    if dropped and faults.drop:
        drop = faults.drop.mode
        fired.append("drop")
    slow_factor = 1.0
    if slowed and faults.slow_audio:
        slow_factor = faults.slow_audio.factor
        fired.append("slow_audio")
    return ResponsePlan(
        latency_ms=latency_ms,
        drop=drop,
        drop_at=drop_at,
        slow_factor=slow_factor,
        fired=tuple(fired),
    )
