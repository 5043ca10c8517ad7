"""``latency``: a delay before a response's first audio delta (or its function-call arguments),
drawn from a fixed, uniform, normal or lognormal distribution. The document is flat:
``{"distribution": "lognormal", "median_ms": 400, "sigma": 0.5, "probability": 1.0}``."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from mocks.faults import FixedDelay, LogNormalDelay, NormalDelay, UniformDelay
from mocks.realtime.faults.base import Fault


class FixedLatency(Fault, FixedDelay):
    name: ClassVar[str] = "latency"


class UniformLatency(Fault, UniformDelay):
    name: ClassVar[str] = "latency"


class NormalLatency(Fault, NormalDelay):
    name: ClassVar[str] = "latency"


class LogNormalLatency(Fault, LogNormalDelay):
    name: ClassVar[str] = "latency"


Latency = Annotated[
    FixedLatency | UniformLatency | NormalLatency | LogNormalLatency,
    Field(discriminator="distribution"),
]
