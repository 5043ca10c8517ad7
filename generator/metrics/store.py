"""The metrics store: every observation of a run, aggregated as it arrives.

Per metric and tag set it keeps an HDR-histogram trend (trend.py), a counter, a rate (passes out
of total) or a gauge (last and highest value), and a one-second series (series.py). Queries merge
every tag set matching a filter, so `trend("turn_latency", {"protocol": "native"})` and
`trend("turn_latency")` both work. Stores merge exactly (`merge`), which is how several workers'
results combine.

An observation touches its totals and the current second's accumulator only (one update, no
line written). Those per-second deltas are folded into the series and the histograms by `tick`
(once a second, and by any query that needs them); with a `SnapshotWriter` each fold is also
written as one snapshot per series (snapshots.py: metrics.jsonl + metrics.hlog), and
`MetricsStore.from_snapshots` rebuilds a store that answers every query as this one does. The
per-observation events.jsonl is opt-in (a `sink`, events.py); `from_events` still reads it.

Memory stays bounded on a long run: totals are histograms and counts, and a store whose seconds
are on disk holds only the newest of them in memory (window.py says which and how long).

The store never formats: reporters read it through the query methods.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.metrics.events import FORMAT_VERSION, EventSink, event_prefix, read_events
from generator.metrics.queries import GaugeAcc, Tags, tag_key
from generator.metrics.replay import record_event
from generator.metrics.series import Delta, Pending, SeriesKey, TagKey, add_buckets
from generator.metrics.snapshots import (
    Fold,
    SeriesDef,
    SnapshotWriter,
    committed_intervals,
    read_snapshots,
    retag_gauges,
)
from generator.metrics.trend import TrendAcc
from generator.metrics.window import SERIES_WINDOW_S, SeriesWindow

# The trend every iteration ends with (load/base.py): its value is how long the iteration ran,
# so the series also learns when it started (arrivals, iterations in flight).
ITERATION_TREND = "iteration_duration"
# Told of every observation as it is recorded: (kind t|c|r|g, metric, value, tags); see `listen`.
Listener = Callable[[str, str, float, TagKey], None]


@dataclass(frozen=True, slots=True)
class _Slot:
    """One metric and tag set as the recording methods need it (see `MetricsStore._slot`)."""

    key: TagKey
    table: dict[TagKey, Any]  # the metric's accumulators by tag set; this one is at `key`
    prefix: str  # its events.jsonl lines' start (events.event_prefix)
    series: SeriesKey  # (metric, key): its key in a Delta


class MetricsStore(SeriesWindow):
    """Trends, counters, rates and gauges per (metric, tag set), plus a per-second series."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sink: EventSink | None = None,
        snapshots: SnapshotWriter | None = None,
        window_s: int | None = SERIES_WINDOW_S,
    ) -> None:
        """``window_s``: seconds of the series held in memory when ``snapshots`` holds the rest
        (None: every second)."""
        super().__init__()
        self._clock = clock
        self._sink = sink
        self._snapshots = snapshots
        self._listener: Listener | None = None
        self.t0 = clock()
        # The wall-clock instant of t0 when known (written with the snapshots), so sources that
        # started apart can be lined up by wall-clock second.
        self.wall_start: float | None = None if snapshots is None else snapshots.wall_start
        self.ended_at: float | None = None  # seconds since t0
        self.last_at = 0.0
        self._slots: dict[tuple[str, str, tuple[tuple[Any, Any], ...]], _Slot] = {}
        # Recorded since the last fold, by second; `_second` keeps the current one at hand.
        self._pending = Pending()
        self._second_at: int | None = None
        self._second_data = Delta()
        self._ids: dict[tuple[str, SeriesKey], int] = {}
        self._created: list[tuple[str, SeriesKey]] = []  # series first seen since the last fold
        self._ticks = 0
        self._end_folded = False
        if snapshots is not None and window_s is not None:
            self.keep_window(snapshots, window_s)
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

    def _second(self, offset: float) -> Delta:
        second = math.floor(offset)
        if second != self._second_at:
            self._second_data = self._pending.at(second)
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
        table: dict[str, dict[TagKey, Any]] = (
            self._trends if kind == "t" else self.counters if kind == "c" else self.rates
        )
        by_tags = table.setdefault(name, {})
        if key not in by_tags:
            by_tags[key] = TrendAcc() if kind == "t" else 0 if kind == "c" else [0, 0]
            self._created.append((kind, (name, key)))
        slot = _Slot(key, by_tags, event_prefix(kind, name, key), (name, key))
        # Only all-str items are remembered: 1, 1.0 and True are equal as dict keys but not as
        # tags.
        if items is not None and all(type(k) is str and type(v) is str for k, v in items):
            self._slots[(kind, name, items)] = slot
        return slot

    def add_trend(
        self, name: str, value_ms: float, tags: Tags = None, at: float | None = None
    ) -> None:
        offset, slot, value = self._offset(at), self._slot("t", name, tags), float(value_ms)
        trends = self._second(offset).trends
        counts = trends.get(slot.series)
        if counts is None:
            counts = trends[slot.series] = {}
        slot.table[slot.key].add_counted(value, counts)
        if name == ITERATION_TREND:
            self._pending.span(offset - value / 1000.0, offset)
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
        self._end_folded = False
        if self._sink is not None:
            self._sink.write({"k": "end", "t": offset})
            self._sink.flush()
        self.tick()

    def tick(self) -> None:
        """Folds what was recorded since the last tick into the series and histograms and, with
        a snapshot writer, writes it out. The runner calls this once a second."""
        self._fold()
        if self._snapshots is not None:
            self._snapshots.flush()

    def _gauge(self, name: str, value: float, key: TagKey, offset: float) -> None:
        by_tags = self.gauges.setdefault(name, {})
        acc = by_tags.get(key)
        if acc is None:
            by_tags[key] = GaugeAcc(value, value, offset)
            self._created.append(("g", (name, key)))
        else:
            if offset >= acc.at:
                acc.last, acc.at = value, offset
            acc.max = max(acc.max, value)
        self._second(offset).gauges[(name, key)] = value

    # -- folding and snapshots -------------------------------------------------------------
    def _fold(self) -> None:
        """Moves the per-second deltas recorded since the last fold into the series and the
        histograms, and hands them to the snapshot writer as one `Fold`."""
        ended = self.ended_at is not None and not self._end_folded
        if not self._pending.seconds and not self._created and not ended:
            return
        self._ticks += 1
        fold = Fold(self._ticks, last_at=self.last_at, ended_at=self.ended_at if ended else None)
        for kind, series_key in self._created:
            sid = self._ids[(kind, series_key)] = len(self._ids)
            fold.defs.append(SeriesDef(sid, kind, series_key))
        self._created = []
        fold.seconds, self._pending, self._second_at = self._pending.seconds, Pending(), None
        self._end_folded = True
        trends: dict[SeriesKey, None] = {}  # dicts, not sets: the files' order is the same
        gauges: dict[SeriesKey, None] = {}  # each run
        for data in fold.seconds.values():
            trends.update(dict.fromkeys(data.trends))
            gauges.update(dict.fromkeys(data.gauges))
        for name, key in trends:
            acc = self._trends[name][key]
            fold.trend_totals[self._ids[("t", (name, key))]] = (
                acc.count,
                acc.sum_ms,
                acc.min_ms,
                acc.max_ms,
            )
        for name, key in gauges:
            g = self.gauges[name][key]
            fold.gauge_totals[self._ids[("g", (name, key))]] = (g.last, g.max, g.at)
        self._absorb(fold.seconds)
        if self._snapshots is not None:
            self._snapshots.write(fold)

    def _absorb(self, seconds: Mapping[int, Delta]) -> None:
        self._whole = self._rows = None
        for second, data in seconds.items():
            self._series.absorb(second, data)
            for (name, key), counts in data.trends.items():
                self._trends[name][key].add_buckets(counts)
        self._series.trim()

    @classmethod
    def from_snapshots(cls, run_dir: Path, gauge_tags: Tags = None) -> MetricsStore:
        """Rebuilds the store whose snapshots are in ``run_dir`` (snapshots.py); a run without
        an end snapshot (interrupted) reads as of its last whole one. ``gauge_tags`` are added
        to every gauge's tags, as `record` does (a worker's slice: its gauge is a part of the
        whole, so merged slices add up)."""
        store = cls(clock=frozen_clock)
        if not gauge_tags:  # the files hold every second as read here: memory a window of them
            store.keep_window(run_dir)
        snapshots = read_snapshots(run_dir)
        store.wall_start = snapshots.wall_start
        for fold in snapshots.folds:
            if gauge_tags:
                retag_gauges(fold, gauge_tags)
            store.apply_fold(fold)
        # The trends' counts, interval by interval: they add up whatever the order.
        for interval in committed_intervals(run_dir, snapshots):
            name, key = interval.key
            acc = store._trends.get(name, {}).get(key)
            if acc is not None:  # else: an interval of a series never defined
                interval.counts.add_into(acc.hist)
                if store._series.holds(interval.second):
                    mine = store._series.at(interval.second).trends.setdefault(name, {})
                    add_buckets(mine, interval.counts.series_buckets())
        return store

    def apply_fold(self, fold: Fold) -> None:
        """Applies one snapshot as read back (or combined from several sources, combine.py)."""
        by_id: dict[int, tuple[str, SeriesKey]] = {v: k for k, v in self._ids.items()}
        for d in fold.defs:
            name, key = d.key
            self._ids[(d.kind, d.key)] = d.id
            by_id[d.id] = (d.kind, d.key)
            if d.kind == "t":
                self._trends.setdefault(name, {}).setdefault(key, TrendAcc())
            elif d.kind == "c":
                self.counters.setdefault(name, {}).setdefault(key, 0)
            elif d.kind == "r":
                self.rates.setdefault(name, {}).setdefault(key, [0, 0])
            else:
                self.gauges.setdefault(name, {}).setdefault(key, GaugeAcc(0.0, 0.0, 0.0))
        for data in fold.seconds.values():
            for (name, key), n in data.counters.items():
                self.counters[name][key] += n
            for (name, key), (passes, total) in data.rates.items():
                pair = self.rates[name][key]
                pair[0] += passes
                pair[1] += total
        self._absorb(fold.seconds)
        for sid, (count, sum_ms, low, high) in fold.trend_totals.items():
            kind, (name, key) = by_id.get(sid, ("", ("", ())))
            if kind == "t":  # else a line naming no trend (a damaged file): skipped
                acc = self._trends[name][key]
                acc.count, acc.sum_ms, acc.min_ms, acc.max_ms = count, sum_ms, low, high
        for sid, (last, most, at) in fold.gauge_totals.items():
            kind, (name, key) = by_id.get(sid, ("", ("", ())))
            if kind == "g":
                self.gauges[name][key] = GaugeAcc(last, most, at)
        self.last_at = fold.last_at
        if fold.ended_at is not None:
            self.ended_at = fold.ended_at
            self._end_folded = True

    def elapsed(self) -> float:
        """Seconds the run lasted: to the end mark, or (live) to now."""
        if self.ended_at is not None:
            return self.ended_at
        if self._clock is frozen_clock:
            return self.last_at
        return max(self._clock() - self.t0, self.last_at)

    # -- combining -------------------------------------------------------------------------
    def merge(self, other: MetricsStore, shift_s: int = 0) -> None:
        """Adds ``other``'s observations to this store (exact: histograms add bucket by bucket).
        Timelines are aligned on each store's own start, ``other``'s second s landing on
        s + ``shift_s``. What is merged in is not written to this store's snapshots, so from
        now on this store holds its whole series in memory (read back if seconds were let go)."""
        self._fold()
        self._series, self._files = self.whole_series(), None
        self._whole = self._rows = None
        self._series.window_s = None
        for name, by_tags in other.trends.items():
            for key, acc in by_tags.items():
                self._trends.setdefault(name, {}).setdefault(key, TrendAcc()).merge(acc)
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
                if mine_g is None or g.at + shift_s >= mine_g.at:
                    self.gauges[name][key] = GaugeAcc(
                        g.last, max(g.max, mine_g.max if mine_g else g.max), g.at + shift_s
                    )
        self._series.merge(other.whole_series(), shift_s)
        # Instants move with the series: the merged run ends with the latest source's end.
        self.last_at = max(self.last_at, other.last_at + shift_s)
        if other.ended_at is not None:
            self.ended_at = max(self.ended_at or 0.0, other.ended_at + shift_s)

    @classmethod
    def from_events(cls, path: Path) -> MetricsStore:
        """Rebuilds the store a run wrote to ``path`` (missing end mark = interrupted run)."""
        store = cls(clock=frozen_clock)
        for event in read_events(path):
            end = store.record(event)
            if end is not None:  # `finish` counted its own instant as the latest one too
                store.ended_at, store.last_at = end, max(store.last_at, end)
        return store

    def record(self, event: Mapping[str, Any], gauge_tags: Tags = None) -> float | None:
        """Records one events.jsonl event at its own time (replay.py); returns the time of an
        end mark."""
        return record_event(self, event, gauge_tags)


def frozen_clock() -> float:
    """The clock of a store rebuilt from files: it stands at 0, so its time is its data's."""
    return 0.0
