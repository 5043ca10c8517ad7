"""What reporters ask the metrics store: totals by metric and tag filter, and the series.

`StoreTables` holds the store's accumulators per metric and tag set and answers the queries;
store.py's `MetricsStore` records into them. A filter matches every tag set that holds its
pairs, so `trend("turn_latency", {"protocol": "native"})` and `trend("turn_latency")` both work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generator.metrics.series import Series, TagKey
from generator.metrics.trend import TrendAcc, TrendStats

Tags = Mapping[str, str] | None


def tag_key(tags: Tags) -> TagKey:
    return tuple(sorted((str(k), str(v)) for k, v in (tags or {}).items()))


def matches(key: TagKey, tag_filter: Tags) -> bool:
    if not tag_filter:
        return True
    have = dict(key)
    return all(have.get(k) == str(v) for k, v in tag_filter.items())


@dataclass(frozen=True)
class RateStats:
    passes: int
    total: int

    @property
    def rate(self) -> float:
        return self.passes / self.total if self.total else 0.0


@dataclass
class GaugeAcc:
    last: float
    max: float
    at: float


class StoreTables:
    """The accumulators and the queries over them. `_fold` (the store's) brings what was
    recorded since the last fold into the histograms and the series before they are read."""

    def __init__(self) -> None:
        self._trends: dict[str, dict[TagKey, TrendAcc]] = {}
        self.counters: dict[str, dict[TagKey, int]] = {}
        self.rates: dict[str, dict[TagKey, list[int]]] = {}
        self.gauges: dict[str, dict[TagKey, GaugeAcc]] = {}
        self._series = Series()

    def _fold(self) -> None:
        """Nothing pending here; the store overrides it."""

    @property
    def trends(self) -> dict[str, dict[TagKey, TrendAcc]]:
        """Trend accumulators by metric and tag set (histograms complete up to now)."""
        self._fold()
        return self._trends

    @property
    def series(self) -> Series:
        """The per-second series, up to now."""
        self._fold()
        return self._series

    # -- queries ---------------------------------------------------------------------------
    def trend(self, name: str, tag_filter: Tags = None) -> TrendStats:
        merged = TrendAcc()
        for key, acc in self.trends.get(name, {}).items():
            if matches(key, tag_filter):
                merged.merge(acc)
        return merged.stats()

    def counter(self, name: str, tag_filter: Tags = None) -> int:
        return sum(n for key, n in self.counters.get(name, {}).items() if matches(key, tag_filter))

    def rate(self, name: str, tag_filter: Tags = None) -> RateStats:
        passes = total = 0
        for key, (p, t) in self.rates.get(name, {}).items():
            if matches(key, tag_filter):
                passes, total = passes + p, total + t
        return RateStats(passes, total)

    def gauge(self, name: str, tag_filter: Tags = None) -> tuple[float, float]:
        """(sum of the last values, sum of the highest values) over matching tag sets."""
        found = [a for k, a in self.gauges.get(name, {}).items() if matches(k, tag_filter)]
        return sum(a.last for a in found), sum(a.max for a in found)

    def counter_by(self, name: str, tag: str, tag_filter: Tags = None) -> dict[str, int]:
        """Counter totals grouped by one tag's value (e.g. errors_total by kind)."""
        out: dict[str, int] = {}
        for key, n in self.counters.get(name, {}).items():
            if matches(key, tag_filter):
                value = dict(key).get(tag, "")
                out[value] = out.get(value, 0) + n
        return out

    def tag_sets(self, name: str) -> list[dict[str, str]]:
        keys: list[TagKey] = []
        for table in (self._trends, self.counters, self.rates, self.gauges):
            keys.extend(table.get(name, {}))
        return [dict(k) for k in keys]

    def metric_names(self) -> dict[str, str]:
        """Every metric recorded, with its type (trend, counter, rate, gauge)."""
        out: dict[str, str] = {}
        for kind, table in (
            ("trend", self._trends),
            ("counter", self.counters),
            ("rate", self.rates),
            ("gauge", self.gauges),
        ):
            out.update(dict.fromkeys(table, kind))
        return out

    def series_rows(self) -> list[dict[str, Any]]:
        return self.series.rows()
