"""The one-second time series of a run's main figures, and the deltas it is folded from.

What the store records goes first into a `Delta` per second (`Pending`): per trend and tag set
the HDR-bucket counts of its values (trend.py's `Buckets`: the interval histogram the interval
log writes), per metric and tag set the counters, rate passes/totals and the last gauge value,
and the iterations started and the iteration-microseconds spent in it (`span`), which the
report charts as arrivals and iterations in flight. A fold (store.py) `absorb`s each delta into
its `Second` of the `Series`, which keeps each trend by name only (the rows chart all tag sets
together) in coarser buckets of 8 significant bits (0.4 % to 0.8 % wide, as fine as the 3
significant decimal digits the rows show), so a second of a busy run holds hundreds of counts
per trend, not thousands. Counts add, so seconds merge exactly; busy time is whole
microseconds, so it adds up to the same figure however the seconds were split or merged (a store
rebuilt from its snapshots equals the one that wrote them).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from generator.metrics.trend import Buckets

TagKey = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, TagKey]


def round3(value_ms: float) -> float:
    return float(f"{value_ms:.3g}")


def label(name: str, tags: TagKey) -> str:
    """`name{k=v,...}`, the series' flat key for one metric and tag set."""
    if not tags:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in tags) + "}"


# The series' buckets keep this many significant bits of a value in µs.
_SERIES_BITS = 8


def coarse(us: int) -> int:
    """The series bucket (its lowest value in µs) of a trend.py bucket or value."""
    shift = us.bit_length() - _SERIES_BITS
    return (us >> shift) << shift if shift > 0 else us


def _coarse_middle(us: int) -> int:
    shift = us.bit_length() - _SERIES_BITS
    return us + (1 << (shift - 1)) if shift > 0 else us


def percentile_of(counts: Buckets, percentile: float) -> float:
    """The value (ms, 3 significant digits) at or below which ``percentile`` % of the counted
    values fall: the middle of that series bucket, within 0.4 % of any value in it."""
    total = sum(counts.values())
    if total == 0:
        return 0.0
    rank = max(1, -(-total * percentile // 100))  # ceil
    seen = 0
    for us in sorted(counts):
        seen += counts[us]
        if seen >= rank:
            return round3(_coarse_middle(us) / 1000.0)
    return round3(_coarse_middle(max(counts)) / 1000.0)


def add_buckets(into: Buckets, counts: Buckets) -> None:
    for us, n in counts.items():
        into[us] = into.get(us, 0) + n


@dataclass
class Delta:
    """What one source recorded in one second since the last fold."""

    trends: dict[SeriesKey, Buckets] = field(default_factory=dict)
    counters: Counter[SeriesKey] = field(default_factory=Counter)
    rates: dict[SeriesKey, list[int]] = field(default_factory=dict)
    gauges: dict[SeriesKey, float] = field(default_factory=dict)
    started: int = 0  # iterations that started in this second
    busy_us: int = 0  # µs of iterations running within this second


class Pending:
    """Seconds since the store's start → the `Delta` recorded in it since the last fold."""

    def __init__(self) -> None:
        self.seconds: dict[int, Delta] = {}

    def at(self, second: int) -> Delta:
        found = self.seconds.get(second)
        if found is None:
            found = self.seconds[second] = Delta()
        return found

    def span(self, start: float, end: float) -> None:
        """One iteration that ran from ``start`` to ``end`` (seconds since the store's start)."""
        start = min(max(start, 0.0), end)  # a µs-rounded start may fall just before 0
        self.at(math.floor(start)).started += 1
        for second in range(math.floor(start), math.ceil(end)):
            self.at(second).busy_us += round((min(end, second + 1) - max(start, second)) * 1e6)


@dataclass
class Second:
    trends: dict[str, Buckets] = field(default_factory=dict)  # by trend name, series buckets
    counters: Counter[SeriesKey] = field(default_factory=Counter)
    rates: dict[SeriesKey, list[int]] = field(default_factory=dict)
    gauges: dict[SeriesKey, float] = field(default_factory=dict)
    started: int = 0  # iterations that started in this second
    busy_us: int = 0  # µs of iterations running within this second (mean in flight × 1e6)

    def merge(self, other: Second) -> None:
        """Adds another source's second (a worker's, a shard's): gauges add up, as each source
        holds its part of the whole."""
        for name, counts in other.trends.items():
            add_buckets(self.trends.setdefault(name, {}), counts)
        self._add_counts(other)
        for key, value in other.gauges.items():
            self.gauges[key] = self.gauges.get(key, 0.0) + value

    def absorb(self, later: Delta) -> None:
        """Adds what the same source recorded later in this second: a gauge's later value
        replaces the earlier one."""
        for (name, _), counts in later.trends.items():
            mine = self.trends.setdefault(name, {})
            for us, n in counts.items():
                us = coarse(us)
                mine[us] = mine.get(us, 0) + n
        self._add_counts(later)
        self.gauges.update(later.gauges)

    def _add_counts(self, other: Second | Delta) -> None:
        self.counters.update(other.counters)
        for key, (passes, total) in other.rates.items():
            pair = self.rates.setdefault(key, [0, 0])
            pair[0] += passes
            pair[1] += total
        self.started += other.started
        self.busy_us += other.busy_us


class Series:
    """Seconds since the store's start → what happened in that second.

    With a ``window_s``, `trim` lets go of the seconds more than that behind the newest one (the
    store does, once its snapshots hold them on disk: store.py); a later delta for a second let
    go is not held either (`absorb`), so memory stays at the window however long the run."""

    def __init__(self, window_s: int | None = None) -> None:
        self.seconds: dict[int, Second] = {}
        self.window_s = window_s
        self.held_from: int | None = None  # the seconds before it were let go (None: none were)

    def at(self, second: int) -> Second:
        found = self.seconds.get(second)
        if found is None:
            found = self.seconds[second] = Second()
        return found

    def holds(self, second: int) -> bool:
        """Whether ``second`` is (or may still be) held: not let go by `trim`."""
        return self.held_from is None or second >= self.held_from

    def absorb(self, second: int, later: Delta) -> None:
        """`Second.absorb` into ``second``, unless that second was let go (`trim`)."""
        if self.holds(second):
            self.at(second).absorb(later)

    def trim(self) -> None:
        """Lets go of the seconds ``window_s`` or more behind the newest one (none without a
        window)."""
        if self.window_s is None or not self.seconds:
            return
        cut = max(self.seconds) - self.window_s + 1
        old = [second for second in self.seconds if second < cut]
        for second in old:
            del self.seconds[second]
        if old:
            self.held_from = cut

    def merge(self, other: Series, shift: int = 0) -> None:
        """Adds another source's seconds, its second ``s`` landing on ``s + shift`` (a source
        that started ``shift`` seconds after this one)."""
        for second, data in other.seconds.items():
            self.at(second + shift).merge(data)

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per second, in order, gaps included (a quiet second is a fact too)."""
        if not self.seconds:
            return []
        quiet = Second()
        return [
            row_of(second, self.seconds.get(second, quiet))
            for second in range(min(self.seconds), max(self.seconds) + 1)
        ]


def row_of(second: int, data: Second) -> dict[str, Any]:
    """``data``'s figures as one plain dict (what `Series.rows` gives per second)."""
    return {
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
            label(*key): (ok / n if n else 0.0) for key, (ok, n) in sorted(data.rates.items())
        },
        "gauges": {label(*key): v for key, v in sorted(data.gauges.items())},
        "iterations": {"started": data.started, "in_flight": data.busy_us / 1e6},
    }
