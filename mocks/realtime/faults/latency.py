"""``latency``: a delay before a response's first audio delta (or its function-call arguments),
drawn from a fixed, uniform, normal or lognormal distribution: every output from the first delta
on moves later by it. The document is flat:
``{"distribution": "lognormal", "median_ms": 400, "sigma": 0.5, "probability": 1.0}``.

Draws: the roll, then (only when it fires) the distribution's own draws."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import Field

from mocks.faults import FixedDelay, LogNormalDelay, NormalDelay, UniformDelay
from mocks.realtime.faults.base import (
    Chance,
    ResponseEffect,
    ResponseFault,
    ShapeContext,
    first_delta_index,
)
from mocks.realtime.outputs import Timeline


class Latency(ResponseFault, Chance):
    name: ClassVar[str] = "latency"
    shared_stream: ClassVar[bool] = True

    def sample_ms(self, rng: random.Random) -> float:  # each distribution's own, by the MRO
        raise NotImplementedError

    @classmethod
    def draw(cls, config: Latency | None, rng: random.Random) -> ResponseEffect | None:
        if not Chance.roll(config, rng) or config is None:
            return None
        return Delayed(latency_ms=config.sample_ms(rng))


class FixedLatency(FixedDelay, Latency):  # the distribution's sample_ms first
    pass


class UniformLatency(UniformDelay, Latency):  # the distribution's sample_ms first
    pass


class NormalLatency(NormalDelay, Latency):  # the distribution's sample_ms first
    pass


class LogNormalLatency(LogNormalDelay, Latency):  # the distribution's sample_ms first
    pass


Latency.document_type = Annotated[
    FixedLatency | UniformLatency | NormalLatency | LogNormalLatency,
    Field(discriminator="distribution"),
]


@dataclass(frozen=True)
class Delayed(ResponseEffect):
    name: str = "latency"

    def shape(self, timeline: Timeline, ctx: ShapeContext) -> Timeline:
        first = first_delta_index(timeline)
        if first is None:
            return timeline
        shift = self.latency_ms / 1000
        return timeline[:first] + [(at + shift, out) for at, out in timeline[first:]]


__all__: list[Any] = [
    "Delayed",
    "FixedLatency",
    "Latency",
    "LogNormalLatency",
    "NormalLatency",
    "UniformLatency",
]
