"""A recording stand-in for MetricsStore, for the unit tests of the http, webhook and connection
workloads: it keeps every observation so a test can assert exactly what a workload recorded,
independent of the real store's aggregation."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Observation:
    kind: str
    name: str
    value: float
    tags: dict[str, str]
    at: float | None


@dataclass
class RecordingStore:
    observations: list[Observation] = field(default_factory=list)

    def _add(
        self, kind: str, name: str, value: float, tags: Mapping[str, str] | None, at: float | None
    ) -> None:
        self.observations.append(Observation(kind, name, value, dict(tags or {}), at))

    def add_trend(
        self,
        name: str,
        value_ms: float,
        tags: Mapping[str, str] | None = None,
        at: float | None = None,
    ) -> None:
        self._add("trend", name, value_ms, tags, at)

    def add_counter(
        self, name: str, n: int = 1, tags: Mapping[str, str] | None = None, at: float | None = None
    ) -> None:
        self._add("counter", name, n, tags, at)

    def add_rate(
        self, name: str, ok: bool, tags: Mapping[str, str] | None = None, at: float | None = None
    ) -> None:
        self._add("rate", name, 1.0 if ok else 0.0, tags, at)

    def add_gauge(
        self,
        name: str,
        value: float,
        tags: Mapping[str, str] | None = None,
        at: float | None = None,
    ) -> None:
        self._add("gauge", name, value, tags, at)

    def of(self, name: str, **tags: str) -> list[Observation]:
        return [
            o
            for o in self.observations
            if o.name == name and all(o.tags.get(k) == v for k, v in tags.items())
        ]

    def total(self, name: str, **tags: str) -> float:
        return sum(o.value for o in self.of(name, **tags))

    def dump(self) -> str:
        return repr(self.observations)


def make_ctx(
    store: RecordingStore, *, iteration: int, start: float, rng: random.Random, vu: int = 0
) -> Any:
    """An IterationContext over the recording store (typed loosely: the store is duck-typed)."""
    from generator.workloads.base import IterationContext

    return IterationContext(vu=vu, iteration=iteration, intended_start=start, store=store, rng=rng)  # type: ignore[arg-type]
