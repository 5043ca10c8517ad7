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
from generator.metrics.series import Series, TagKey, round3
from generator.metrics.trend import TrendAcc, TrendStats

Tags = Mapping[str, str] | None
# Told of every observation as it is recorded: (kind t|c|r|g, metric, value, tags); see `listen`.
Listener = Callable[[str, str, float, TagKey], None]


def tag_key(tags: Tags) -> TagKey:
    return tuple(sorted((str(k), str(v)) for k, v in (tags or {}).items()))


# Call sites build the same few tag dicts over and over; sorting them is a good part of recording
# one value, so keys are remembered by the dict's items. Bounded: tags with ever-new values
# (an id per call) only empty the cache now and then.
_KEY_CACHE: dict[tuple[tuple[Any, Any], ...], TagKey] = {}
_KEY_CACHE_MAX = 4096


def cached_tag_key(tags: Tags) -> TagKey:
    if not tags:
        return ()
    items = tuple(tags.items())
    try:
        return _KEY_CACHE[items]
    except KeyError:
        pass
    except TypeError:  # an unhashable tag value: str() makes it a key anyway
        return tag_key(tags)
    key = tag_key(tags)
    # Only all-str items are remembered: 1, 1.0 and True are equal as dict keys but not as tags.
    if all(type(k) is str and type(v) is str for k, v in items):
        if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
            _KEY_CACHE.clear()
        _KEY_CACHE[items] = key
    return key


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
        # events.jsonl line prefixes by (kind, metric, tags): see events.event_prefix.
        self._prefixes: dict[tuple[str, str, TagKey], str] = {}
        if sink is not None:
            sink.write({"k": "start", "format": FORMAT_VERSION, "wall": time.time()})

    def listen(self, listener: Listener | None) -> None:
        """Have ``listener`` told of every later observation (one at a time; None: nobody). The
        live /metrics exporter (exporter.py) hangs here; merges and replays are not told."""
        self._listener = listener

    # -- recording -------------------------------------------------------------------------
    def _offset(self, at: float | None) -> float:
        # Rounded as events.jsonl writes it, so a store rebuilt from the file is equal.
        offset = round((self._clock() if at is None else at) - self.t0, 6)
        self.last_at = max(self.last_at, offset)
        return offset

    def _emit(self, kind: str, offset: float, name: str, value: float, key: TagKey) -> None:
        if self._sink is not None:
            prefix = self._prefixes.get((kind, name, key))
            if prefix is None:
                prefix = self._prefixes[(kind, name, key)] = event_prefix(kind, name, key)
            self._sink.write_observation(prefix, offset, value)
        if self._listener is not None:
            self._listener(kind, name, value, key)

    def add_trend(
        self, name: str, value_ms: float, tags: Tags = None, at: float | None = None
    ) -> None:
        offset, key = self._offset(at), cached_tag_key(tags)
        self._trend(name, float(value_ms), key, offset)
        self._emit("t", offset, name, float(value_ms), key)

    def add_counter(
        self, name: str, n: int = 1, tags: Tags = None, at: float | None = None
    ) -> None:
        offset, key = self._offset(at), cached_tag_key(tags)
        self._counter(name, int(n), key, offset)
        self._emit("c", offset, name, int(n), key)

    def add_rate(self, name: str, ok: bool, tags: Tags = None, at: float | None = None) -> None:
        offset, key = self._offset(at), cached_tag_key(tags)
        self._rate(name, bool(ok), key, offset)
        self._emit("r", offset, name, 1 if ok else 0, key)

    def add_gauge(
        self, name: str, value: float, tags: Tags = None, at: float | None = None
    ) -> None:
        offset, key = self._offset(at), cached_tag_key(tags)
        self._gauge(name, float(value), key, offset)
        self._emit("g", offset, name, float(value), key)

    def finish(self, at: float | None = None) -> None:
        """Marks the end of the run (rates per second divide by the time up to here)."""
        offset = self._offset(at)
        self.ended_at = offset
        if self._sink is not None:
            self._sink.write({"k": "end", "t": round(offset, 6)})
            self._sink.flush()

    def _trend(self, name: str, value_ms: float, key: TagKey, offset: float) -> None:
        acc = self.trends.setdefault(name, {}).get(key)
        if acc is None:
            acc = self.trends[name][key] = TrendAcc()
        acc.add(value_ms)
        second = self.series.at(math.floor(offset)).trends
        second.setdefault(name, Counter())[round3(value_ms)] += 1

    def _counter(self, name: str, n: int, key: TagKey, offset: float) -> None:
        by_tags = self.counters.setdefault(name, {})
        by_tags[key] = by_tags.get(key, 0) + n
        self.series.at(math.floor(offset)).counters[(name, key)] += n

    def _rate(self, name: str, ok: bool, key: TagKey, offset: float) -> None:
        for acc in (
            self.rates.setdefault(name, {}).setdefault(key, [0, 0]),
            self.series.at(math.floor(offset)).rates.setdefault((name, key), [0, 0]),
        ):
            acc[0] += int(ok)
            acc[1] += 1

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
    def from_events(
        cls, path: Path, also: Callable[[dict[str, Any]], None] | None = None
    ) -> MetricsStore:
        """Rebuilds the store a run wrote to ``path`` (missing end mark = interrupted run).
        ``also`` sees every event on the way, for readers that need more than the store (one
        pass: a long HTTP run writes millions of lines)."""
        store = cls(clock=_frozen_clock)
        replay = {"t": store._trend, "c": store._counter, "r": store._rate, "g": store._gauge}
        for event in read_events(path):
            if also is not None:
                also(event)
            kind = event.get("k")
            try:
                if kind == "end":
                    store.ended_at = float(event["t"])
                    continue
                record = replay.get(str(kind))
                if record is None:
                    continue
                offset = float(event["t"])
                value: Any = event["v"]
                if kind == "c":
                    value = int(value)
                elif kind == "r":
                    value = bool(value)
                else:
                    value = float(value)
                record(str(event["n"]), value, tag_key(event.get("g")), offset)
                store.last_at = max(store.last_at, offset)
            except (KeyError, TypeError, ValueError):
                continue
        return store


def _frozen_clock() -> float:
    return 0.0
