"""The one-second time series of a run's main figures.

Each second keeps, per trend name (all tag sets together), a sparse count of values rounded to
3 significant digits, so p50/p95/p99 per second are exact to 0.1 % and seconds merge exactly by
adding counts; per metric and tag set the counters, rate passes/totals and the last gauge
value; and the iterations started in it and the iteration-seconds spent in it (`span`), which
the report charts as arrivals and iterations in flight. A second is a few hundred bytes, so a
long soak stays small, and a report needs no pass over the run's raw events.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

TagKey = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, TagKey]


def round3(value_ms: float) -> float:
    return float(f"{value_ms:.3g}")


def label(name: str, tags: TagKey) -> str:
    """`name{k=v,...}`, the series' flat key for one metric and tag set."""
    if not tags:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in tags) + "}"


def percentile_of(counts: Counter[float], percentile: float) -> float:
    total = sum(counts.values())
    if total == 0:
        return 0.0
    rank = max(1, -(-total * percentile // 100))  # ceil: the value at or below which p % fall
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    return max(counts)


@dataclass
class Second:
    trends: dict[str, Counter[float]] = field(default_factory=dict)
    counters: Counter[SeriesKey] = field(default_factory=Counter)
    rates: dict[SeriesKey, list[int]] = field(default_factory=dict)
    gauges: dict[SeriesKey, float] = field(default_factory=dict)
    started: int = 0  # iterations that started in this second
    busy: float = 0.0  # seconds of iterations running within this second (mean in flight)

    def merge(self, other: Second) -> None:
        for name, counts in other.trends.items():
            self.trends.setdefault(name, Counter()).update(counts)
        self.counters.update(other.counters)
        for key, (passes, total) in other.rates.items():
            mine = self.rates.setdefault(key, [0, 0])
            mine[0] += passes
            mine[1] += total
        for key, value in other.gauges.items():
            self.gauges[key] = self.gauges.get(key, 0.0) + value
        self.started += other.started
        self.busy += other.busy


class Series:
    """Seconds since the store's start → what happened in that second."""

    def __init__(self) -> None:
        self.seconds: dict[int, Second] = {}

    def at(self, second: int) -> Second:
        found = self.seconds.get(second)
        if found is None:
            found = self.seconds[second] = Second()
        return found

    def span(self, start: float, end: float) -> None:
        """One iteration that ran from ``start`` to ``end`` (seconds since the store's start)."""
        start = min(max(start, 0.0), end)  # a µs-rounded start may fall just before 0
        self.at(math.floor(start)).started += 1
        for second in range(math.floor(start), math.ceil(end)):
            self.at(second).busy += min(end, second + 1) - max(start, second)

    def merge(self, other: Series) -> None:
        for second, data in other.seconds.items():
            self.at(second).merge(data)

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per second, in order, gaps included (a quiet second is a fact too)."""
        if not self.seconds:
            return []
        rows = []
        for second in range(min(self.seconds), max(self.seconds) + 1):
            data = self.seconds.get(second, Second())
            rows.append(
                {
                    "t": second,
                    "trends": {
                        name: {
                            "count": sum(counts.values()),
                            "p50": percentile_of(counts, 50),
                            "p95": percentile_of(counts, 95),
                            "p99": percentile_of(counts, 99),
                        }
                        for name, counts in sorted(data.trends.items())
                    },
                    "counters": {label(*key): n for key, n in sorted(data.counters.items())},
                    "rates": {
                        label(*key): (ok / n if n else 0.0)
                        for key, (ok, n) in sorted(data.rates.items())
                    },
                    "gauges": {label(*key): v for key, v in sorted(data.gauges.items())},
                    "iterations": {"started": data.started, "in_flight": data.busy},
                }
            )
        return rows
