"""One latency distribution: an HDR histogram plus exact count, sum, min and max.

Values arrive in milliseconds and are recorded as whole microseconds from 1 µs to 1 hour with 3
significant digits, so every percentile is within 0.1 % of the truth and memory stays fixed
however long the run (k6 keeps every sample; k6#763). HDR histograms merge exactly, so a trend
merged from many tag sets or workers gives the same percentiles as one that saw every sample.

Recording is the hot path (several values per request or audio frame), and the hdrh package's
`record_value` is pure Python (~1 µs). So `add` only counts the value's HDR bucket in a dict,
and the counts go into the histogram in bulk when it is read or the dict grows. The histogram
ends up with exactly the counts a value-by-value record would give (same buckets), so every
percentile is unchanged. A bucket is named by its lowest value in µs (`Buckets`); the store
keeps one such dict per second and tag set too (series.py), which is what the interval log
(hlog.py) writes, and `add_counted` fills it in the same step as the totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
# 3 significant digits: 2,048 sub-buckets, so a value keeps its top 11 bits (hdrh's layout).
_SUB_BUCKET_BITS = 11
# Pending buckets folded into the histogram past this many (a bucket is one dict entry).
_FOLD_AT = 4096
# HDR bucket (its lowest value in µs) → how many values fell in it.
Buckets = dict[int, int]


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


class TrendAcc:
    """Accumulates one trend (one metric, one tag set)."""

    __slots__ = ("_hist", "_pending", "count", "max_ms", "min_ms", "sum_ms")

    def __init__(self) -> None:
        self._hist = new_histogram()
        self._pending: dict[int, int] = {}
        self.count = 0
        self.sum_ms = 0.0
        self.min_ms = float("inf")
        self.max_ms = float("-inf")

    @property
    def hist(self) -> HdrHistogram:
        """The histogram, with every value added so far."""
        if self._pending:
            self._fold()
        return self._hist

    def add(self, value_ms: float) -> None:
        # Whole microseconds clamped into the histogram's range, then the bucket's lowest value;
        # written out inline because it runs for every value.
        us = round(value_ms * 1000.0)
        if us < LOWEST_US:
            us = LOWEST_US
        elif us > HIGHEST_US:
            us = HIGHEST_US
        shift = us.bit_length() - _SUB_BUCKET_BITS
        if shift > 0:
            us = (us >> shift) << shift
        pending = self._pending
        pending[us] = pending.get(us, 0) + 1
        if len(pending) > _FOLD_AT:
            self._fold()
        self.count += 1
        self.sum_ms += value_ms
        if value_ms < self.min_ms:
            self.min_ms = value_ms
        if value_ms > self.max_ms:
            self.max_ms = value_ms

    def add_counted(self, value_ms: float, counts: Buckets) -> None:
        """Adds one value to the totals (count, sum, min, max) and its bucket to ``counts`` (the
        current second's), not to the histogram: `add_buckets` brings those counts in later.
        Written out like `add`, since it is the store's hot path."""
        us = round(value_ms * 1000.0)
        if us < LOWEST_US:
            us = LOWEST_US
        elif us > HIGHEST_US:
            us = HIGHEST_US
        shift = us.bit_length() - _SUB_BUCKET_BITS
        if shift > 0:
            us = (us >> shift) << shift
        counts[us] = counts.get(us, 0) + 1
        self.count += 1
        self.sum_ms += value_ms
        if value_ms < self.min_ms:
            self.min_ms = value_ms
        if value_ms > self.max_ms:
            self.max_ms = value_ms

    def add_buckets(self, counts: Buckets) -> None:
        """Adds bucket counts to the histogram only (their totals were counted already)."""
        pending = self._pending
        for us, n in counts.items():
            pending[us] = pending.get(us, 0) + n
        if len(pending) > _FOLD_AT:
            self._fold()

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

    def _fold(self) -> None:
        add_to_histogram(self._hist, self._pending)
        self._pending.clear()


def add_to_histogram(hist: HdrHistogram, counts: Buckets) -> None:
    """Adds bucket counts to a `new_histogram()` as `record_value(us, n)` would, index by index
    (hdrh's `record_value` is pure Python and ~1 µs; this runs for every bucket each second)."""
    if not counts:
        return
    cells = hist.counts
    for us, n in counts.items():
        cells[counts_index(us)] += n
    hist.total_count += sum(counts.values())
    hist.min_value = min(hist.min_value, min(counts))
    hist.max_value = max(hist.max_value, max(counts))


def counts_index(us: int) -> int:
    """hdrh's counts-array index of a bucket's lowest value (2,048 sub-buckets, unit 1 µs)."""
    shift = us.bit_length() - _SUB_BUCKET_BITS
    if shift <= 0:
        return us
    return ((shift + 1) << (_SUB_BUCKET_BITS - 1)) + (us >> shift) - (1 << (_SUB_BUCKET_BITS - 1))


def bucket_top_us(us: int) -> int:
    """The highest value of the bucket whose lowest value is ``us`` (what hdrh answers with)."""
    shift = us.bit_length() - _SUB_BUCKET_BITS
    return us + (1 << shift) - 1 if shift > 0 else us


def bucket_of(value_ms: float) -> int:
    """The bucket (lowest value in µs) that `add` counts ``value_ms`` in."""
    counts: Buckets = {}
    TrendAcc().add_counted(value_ms, counts)
    return next(iter(counts))


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
