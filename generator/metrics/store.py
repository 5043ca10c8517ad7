"""The metrics store: every observation of a run, aggregated as it arrives.

Per metric and tag set it keeps an HDR-histogram trend (trend.py), a counter, a rate (passes out
of total) or a gauge (last and highest value), and a one-second series (series.py). Queries merge
every tag set matching a filter, so `trend("turn_latency", {"protocol": "native"})` and
`trend("turn_latency")` both work. Stores merge exactly (`merge`), which is how several workers'
results combine. With a sink, every observation is also appended to events.jsonl, and
`MetricsStore.from_events` rebuilds an equal store from that file (an interrupted run reports).

The store never formats: reporters read it through the query methods.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.metrics.events import FORMAT_VERSION, EventSink, event_prefix, read_events
from generator.metrics.series import Second, Series, TagKey, round3
from generator.metrics.trend import TrendAcc, TrendStats

Tags = Mapping[str, str] | None
# The trend every iteration ends with (load/base.py): its value is how long the iteration ran,
# so the series also learns when it started (arrivals, iterations in flight).
ITERATION_TREND = "iteration_duration"
# Told of every observation as it is recorded: (kind t|c|r|g, metric, value, tags); see `listen`.
Listener = Callable[[str, str, float, TagKey], None]


def tag_key(tags: Tags) -> TagKey:
    return tuple(sorted((str(k), str(v)) for k, v in (tags or {}).items()))


def matches(key: TagKey, tag_filter: Tags) -> bool:
    if not tag_filter:
        return True
    have = dict(key)
    return all(have.get(k) == str(v) for k, v in tag_filter.items())


@dataclass(frozen=True, slots=True)
class _Slot:
    """One metric and tag set as the recording methods need it (see `MetricsStore._slot`)."""

    key: TagKey
    table: dict[TagKey, Any]  # the metric's accumulators by tag set; this one is at `key`
    prefix: str  # its events.jsonl lines' start (events.event_prefix)


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


class MetricsStore:
    """Trends, counters, rates and gauges per (metric, tag set), plus a per-second series."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sink: EventSink | None = None
    ) -> None:
        self._clock = clock
        self._sink = sink
        self._listener: Listener | None = None
        self.t0 = clock()
        self.ended_at: float | None = None  # seconds since t0
        self.last_at = 0.0
        self.trends: dict[str, dict[TagKey, TrendAcc]] = {}
        self.counters: dict[str, dict[TagKey, int]] = {}
        self.rates: dict[str, dict[TagKey, list[int]]] = {}
        self.gauges: dict[str, dict[TagKey, GaugeAcc]] = {}
        self.series = Series()
        self._slots: dict[tuple[str, str, tuple[tuple[Any, Any], ...]], _Slot] = {}
        self._second_at: int | None = None
        self._second_data = Second()
        if sink is not None:
            sink.write({"k": "start", "format": FORMAT_VERSION, "wall": time.time()})

    def listen(self, listener: Listener | None) -> None:
        """Have ``listener`` told of every later observation (one at a time; None: nobody). The
        live /metrics exporter (exporter.py) hangs here; merges and replays are not told."""
        self._listener = listener

    # -- recording -------------------------------------------------------------------------
    # add_trend, add_counter and add_rate run for every request and audio frame, so each looks
    # its metric and tag set up once (a _Slot: the sorted key, the accumulator and the
    # events.jsonl prefix) and keeps the current second at hand.
    def _offset(self, at: float | None) -> float:
        # Whole microseconds, as events.jsonl writes them, so a store rebuilt from the file is
        # equal (an integer over 1e6 is the float that its decimal spelling parses to).
        offset = round(((self._clock() if at is None else at) - self.t0) * 1e6) / 1e6
        if offset > self.last_at:
            self.last_at = offset
        return offset

    def _second(self, offset: float) -> Second:
        second = math.floor(offset)
        if second != self._second_at:
            self._second_data = self.series.at(second)
            self._second_at = second
        return self._second_data

    def _slot(self, kind: str, name: str, tags: Tags) -> _Slot:
        items = tuple(tags.items()) if tags else ()
        try:
            return self._slots[(kind, name, items)]
        except KeyError:
            pass
        except TypeError:  # an unhashable tag value
            items = None  # type: ignore[assignment]
        key = tag_key(tags)
        by_tags: dict[TagKey, Any]
        if kind == "t":
            by_tags = self.trends.setdefault(name, {})
            by_tags.setdefault(key, TrendAcc())
        elif kind == "c":
            by_tags = self.counters.setdefault(name, {})
            by_tags.setdefault(key, 0)
        else:
            by_tags = self.rates.setdefault(name, {})
            by_tags.setdefault(key, [0, 0])
        slot = _Slot(key, by_tags, event_prefix(kind, name, key))
        # Only all-str items are remembered: 1, 1.0 and True are equal as dict keys but not as
        # tags.
        if items is not None and all(type(k) is str and type(v) is str for k, v in items):
            self._slots[(kind, name, items)] = slot
        return slot

    def add_trend(
        self, name: str, value_ms: float, tags: Tags = None, at: float | None = None
    ) -> None:
        offset, slot, value = self._offset(at), self._slot("t", name, tags), float(value_ms)
        slot.table[slot.key].add(value)
        trends = self._second(offset).trends
        counts = trends.get(name)
        if counts is None:
            counts = trends[name] = Counter()
        counts[round3(value)] += 1
        if name == ITERATION_TREND:
            self.series.span(offset - value / 1000.0, offset)
        if self._sink is not None:
            self._sink.write_observation(slot.prefix, offset, value)
        if self._listener is not None:
            self._listener("t", name, value, slot.key)

    def add_counter(
        self, name: str, n: int = 1, tags: Tags = None, at: float | None = None
    ) -> None:
        offset, slot, n = self._offset(at), self._slot("c", name, tags), int(n)
        slot.table[slot.key] += n
        self._second(offset).counters[(name, slot.key)] += n
        if self._sink is not None:
            self._sink.write_observation(slot.prefix, offset, n)
        if self._listener is not None:
            self._listener("c", name, n, slot.key)

    def add_rate(self, name: str, ok: bool, tags: Tags = None, at: float | None = None) -> None:
        offset, slot, passed = self._offset(at), self._slot("r", name, tags), 1 if ok else 0
        pair = slot.table[slot.key]
        pair[0] += passed
        pair[1] += 1
        rates = self._second(offset).rates
        pair = rates.get((name, slot.key))
        if pair is None:
            pair = rates[(name, slot.key)] = [0, 0]
        pair[0] += passed
        pair[1] += 1
        if self._sink is not None:
            self._sink.write_observation(slot.prefix, offset, passed)
        if self._listener is not None:
            self._listener("r", name, passed, slot.key)

    def add_gauge(
        self, name: str, value: float, tags: Tags = None, at: float | None = None
    ) -> None:
        offset, key = self._offset(at), tag_key(tags)
        self._gauge(name, float(value), key, offset)
        if self._sink is not None:
            self._sink.write_observation(event_prefix("g", name, key), offset, float(value))
        if self._listener is not None:
            self._listener("g", name, float(value), key)

    def finish(self, at: float | None = None) -> None:
        """Marks the end of the run (rates per second divide by the time up to here)."""
        offset = self._offset(at)
        self.ended_at = offset
        if self._sink is not None:
            self._sink.write({"k": "end", "t": offset})
            self._sink.flush()

    def _gauge(self, name: str, value: float, key: TagKey, offset: float) -> None:
        by_tags = self.gauges.setdefault(name, {})
        acc = by_tags.get(key)
        if acc is None:
            by_tags[key] = GaugeAcc(value, value, offset)
        else:
            if offset >= acc.at:
                acc.last, acc.at = value, offset
            acc.max = max(acc.max, value)
        self.series.at(math.floor(offset)).gauges[(name, key)] = value

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
        for table in (self.trends, self.counters, self.rates, self.gauges):
            keys.extend(table.get(name, {}))
        return [dict(k) for k in keys]

    def metric_names(self) -> dict[str, str]:
        """Every metric recorded, with its type (trend, counter, rate, gauge)."""
        out: dict[str, str] = {}
        for kind, table in (
            ("trend", self.trends),
            ("counter", self.counters),
            ("rate", self.rates),
            ("gauge", self.gauges),
        ):
            out.update(dict.fromkeys(table, kind))
        return out

    def elapsed(self) -> float:
        """Seconds the run lasted: to the end mark, or (live) to now."""
        if self.ended_at is not None:
            return self.ended_at
        if self._clock is _frozen_clock:
            return self.last_at
        return max(self._clock() - self.t0, self.last_at)

    def series_rows(self) -> list[dict[str, Any]]:
        return self.series.rows()

    # -- combining -------------------------------------------------------------------------
    def merge(self, other: MetricsStore) -> None:
        """Adds ``other``'s observations to this store (exact: histograms add bucket by bucket).
        Timelines are aligned on each store's own start."""
        for name, by_tags in other.trends.items():
            for key, acc in by_tags.items():
                self.trends.setdefault(name, {}).setdefault(key, TrendAcc()).merge(acc)
        for name, counts in other.counters.items():
            for key, n in counts.items():
                mine = self.counters.setdefault(name, {})
                mine[key] = mine.get(key, 0) + n
        for name, rates in other.rates.items():
            for key, (p, t) in rates.items():
                pair = self.rates.setdefault(name, {}).setdefault(key, [0, 0])
                pair[0] += p
                pair[1] += t
        for name, gauges in other.gauges.items():
            for key, g in gauges.items():
                mine_g = self.gauges.setdefault(name, {}).get(key)
                if mine_g is None or g.at >= mine_g.at:
                    self.gauges[name][key] = GaugeAcc(
                        g.last, max(g.max, mine_g.max if mine_g else g.max), g.at
                    )
        self.series.merge(other.series)
        self.last_at = max(self.last_at, other.last_at)
        if other.ended_at is not None:
            self.ended_at = max(self.ended_at or 0.0, other.ended_at)

    @classmethod
    def from_events(cls, path: Path) -> MetricsStore:
        """Rebuilds the store a run wrote to ``path`` (missing end mark = interrupted run)."""
        store = cls(clock=_frozen_clock)
        for event in read_events(path):
            end = store.record(event)
            if end is not None:
                store.ended_at = end
        return store

    def record(self, event: Mapping[str, Any], gauge_tags: Tags = None) -> float | None:
        """Records one events.jsonl event at its own time; returns the time of an end mark.
        ``gauge_tags`` are added to a gauge's tags (a worker's slice: its gauge is a part of the
        whole). An event that does not parse (a newer format, a torn write) is skipped."""
        kind = event.get("k")
        try:
            if kind == "end":
                return float(event["t"])
            at, name, value = float(event["t"]), str(event["n"]), event["v"]
            tags = event.get("g") or {}
            if not isinstance(tags, dict):
                return None
            if kind == "t":
                self.add_trend(name, float(value), tags, at=at)
            elif kind == "c":
                self.add_counter(name, int(value), tags, at=at)
            elif kind == "r":
                self.add_rate(name, bool(value), tags, at=at)
            elif kind == "g":
                self.add_gauge(name, float(value), {**tags, **(gauge_tags or {})}, at=at)
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: an infinite trend
            pass
        return None


def _frozen_clock() -> float:
    return 0.0
