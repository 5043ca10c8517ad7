"""One latency distribution: an HDR histogram plus exact count, sum, min and max.

Values arrive in milliseconds and are recorded as whole microseconds from 1 µs to 1 hour with 3
significant digits, so every percentile is within 0.1 % of the truth and memory stays fixed
however long the run (k6 keeps every sample; k6#763). HDR histograms merge exactly, so a trend
merged from many tag sets or workers gives the same percentiles as one that saw every sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def to_us(value_ms: float) -> int:
    """Milliseconds to the histogram's integer microseconds, clamped into its range."""
    return min(max(round(value_ms * 1000.0), LOWEST_US), HIGHEST_US)


class TrendAcc:
    """Accumulates one trend (one metric, one tag set)."""

    __slots__ = ("count", "hist", "max_ms", "min_ms", "sum_ms")

    def __init__(self) -> None:
        self.hist = new_histogram()
        self.count = 0
        self.sum_ms = 0.0
        self.min_ms = float("inf")
        self.max_ms = float("-inf")

    def add(self, value_ms: float) -> None:
        self.hist.record_value(to_us(value_ms))
        self.count += 1
        self.sum_ms += value_ms
        self.min_ms = min(self.min_ms, value_ms)
        self.max_ms = max(self.max_ms, value_ms)

    def merge(self, other: TrendAcc) -> None:
        if other.count == 0:
            return
        self.hist.add(other.hist)
        self.count += other.count
        self.sum_ms += other.sum_ms
        self.min_ms = min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)

    def stats(self) -> TrendStats:
        return TrendStats.of(self)


@dataclass(frozen=True)
class TrendStats:
    """Summary of a trend in milliseconds. ``p(N)`` reads any percentile from the histogram."""

    count: int
    min: float
    avg: float
    med: float
    max: float
    _acc: TrendAcc | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, acc: TrendAcc) -> TrendStats:
        if acc.count == 0:
            return cls(0, 0.0, 0.0, 0.0, 0.0, None)
        stats = cls(acc.count, acc.min_ms, acc.sum_ms / acc.count, 0.0, acc.max_ms, acc)
        object.__setattr__(stats, "med", stats.p(50))
        return stats

    def p(self, percentile: float) -> float:
        """The value at ``percentile`` (0..100), in ms; clamped to the exact min and max, since
        the histogram answers with the top of the bucket the value fell in."""
        if self._acc is None or self.count == 0:
            return 0.0
        if percentile >= 100:
            return self.max
        us = self._acc.hist.get_value_at_percentile(percentile)
        return float(min(max(us / 1000.0, self.min), self.max))
