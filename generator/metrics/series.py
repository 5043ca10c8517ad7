"""The one-second time series of a run's main figures.

Each second keeps, per trend and tag set, the HDR-bucket counts of its values (trend.py's
`Buckets`: the interval histogram the interval log writes), so p50/p95/p99 per second are exact
to 0.1 % and seconds merge exactly by adding counts; per metric and tag set the counters, rate
passes/totals and the last gauge value; and the iterations started in it and the
iteration-microseconds spent in it (`span`), which the report charts as arrivals and iterations
in flight. Busy time is whole microseconds, so it adds up to the same figure however the
seconds were split or merged (a store rebuilt from its snapshots equals the one that wrote
them). A second is a few hundred bytes per series, so a long soak stays small.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from generator.metrics.trend import Buckets, bucket_top_us

TagKey = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, TagKey]


def round3(value_ms: float) -> float:
    return float(f"{value_ms:.3g}")


def label(name: str, tags: TagKey) -> str:
    """`name{k=v,...}`, the series' flat key for one metric and tag set."""
    if not tags:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in tags) + "}"


def percentile_of(counts: Buckets, percentile: float) -> float:
    """The value (ms, 3 significant digits) at or below which ``percentile`` % of the counted
    values fall: the top of that HDR bucket, as the run's totals answer."""
    total = sum(counts.values())
    if total == 0:
        return 0.0
    rank = max(1, -(-total * percentile // 100))  # ceil
    seen = 0
    for us in sorted(counts):
        seen += counts[us]
        if seen >= rank:
            return round3(bucket_top_us(us) / 1000.0)
    return round3(bucket_top_us(max(counts)) / 1000.0)


def add_buckets(into: Buckets, counts: Buckets) -> None:
    for us, n in counts.items():
        into[us] = into.get(us, 0) + n


@dataclass
class Second:
    trends: dict[SeriesKey, Buckets] = field(default_factory=dict)
    counters: Counter[SeriesKey] = field(default_factory=Counter)
    rates: dict[SeriesKey, list[int]] = field(default_factory=dict)
    gauges: dict[SeriesKey, float] = field(default_factory=dict)
    started: int = 0  # iterations that started in this second
    busy_us: int = 0  # µs of iterations running within this second (mean in flight × 1e6)

    def merge(self, other: Second) -> None:
        """Adds another source's second (a worker's, a shard's): gauges add up, as each source
        holds its part of the whole."""
        self._add_counts(other)
        for key, value in other.gauges.items():
            self.gauges[key] = self.gauges.get(key, 0.0) + value

    def absorb(self, later: Second) -> None:
        """Adds what the same source recorded later in this second: a gauge's later value
        replaces the earlier one."""
        self._add_counts(later)
        self.gauges.update(later.gauges)

    def _add_counts(self, other: Second) -> None:
        for key, counts in other.trends.items():
            mine = self.trends.get(key)
            if mine is None:
                self.trends[key] = dict(counts)
            else:
                add_buckets(mine, counts)
        self.counters.update(other.counters)
        for key, (passes, total) in other.rates.items():
            pair = self.rates.setdefault(key, [0, 0])
            pair[0] += passes
            pair[1] += total
        self.started += other.started
        self.busy_us += other.busy_us


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
            self.at(second).busy_us += round((min(end, second + 1) - max(start, second)) * 1e6)

    def merge(self, other: Series, shift: int = 0) -> None:
        """Adds another source's seconds, its second ``s`` landing on ``s + shift`` (a source
        that started ``shift`` seconds after this one)."""
        for second, data in other.seconds.items():
            self.at(second + shift).merge(data)

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per second, in order, gaps included (a quiet second is a fact too)."""
        if not self.seconds:
            return []
        rows = []
        for second in range(min(self.seconds), max(self.seconds) + 1):
            data = self.seconds.get(second, Second())
            by_name: dict[str, Buckets] = {}
            for (name, _), counts in data.trends.items():
                add_buckets(by_name.setdefault(name, {}), counts)
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
                        for name, counts in sorted(by_name.items())
                    },
                    "counters": {label(*key): n for key, n in sorted(data.counters.items())},
                    "rates": {
                        label(*key): (ok / n if n else 0.0)
                        for key, (ok, n) in sorted(data.rates.items())
                    },
                    "gauges": {label(*key): v for key, v in sorted(data.gauges.items())},
                    "iterations": {"started": data.started, "in_flight": data.busy_us / 1e6},
                }
            )
        return rows
