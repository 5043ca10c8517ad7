"""Several sources' snapshots combined into one store as they come, and written as one.

A source is a worker process handing its snapshots over (generator/distributed/handover.py) or a
run directory read back (a shard, `callbench merge`). Each source's folds (snapshots.py) are
re-keyed into the combined store's series ids, moved by the source's whole-second start offset
(align.py), its gauges tagged with its slice (a slice's gauge is its part of the whole, so the
combined gauge query adds them up), and applied: histograms add bucket by bucket, counters and
rates add, so the combined store answers exactly as one store that saw every observation. A
trend's totals (count, sum, min, max) are cumulative per source, so the combined totals are
recomputed from each source's latest ones.

With a `SnapshotWriter`, every combined fold is written too, so the combined run directory reads
back with `MetricsStore.from_snapshots` like any run's. The cost is per second and series, never
per observation.

    combiner = Combiner(SnapshotWriter(out_dir, wall_start=earliest))
    source = combiner.source(shift_s=1, gauge_tags={"slice": "1"})
    for fold, parts in read_source(run_dir):     # or SnapshotStream.feed(...) as it arrives
        combiner.add(source, fold, parts)
    combiner.finish()                            # the end: the latest source's end
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from generator.metrics.hlog import Interval, read_intervals
from generator.metrics.queries import tag_key
from generator.metrics.series import Delta, SeriesKey
from generator.metrics.snapshots import (
    Fold,
    SeriesDef,
    SnapshotLines,
    SnapshotWriter,
    committed_intervals,
    read_snapshots,
)
from generator.metrics.store import MetricsStore, frozen_clock
from generator.metrics.trend import Buckets

TrendTotals = tuple[int, float, float, float]  # count, sum, min, max (ms)


@dataclass(frozen=True)
class TrendPart:
    """One interval of a source's trend: its second (on the source's timeline), series, counts."""

    second: int
    key: SeriesKey
    counts: Buckets

    @classmethod
    def of(cls, interval: Interval) -> TrendPart:
        return cls(interval.second, interval.key, interval.counts.buckets())


@dataclass
class Source:
    """One source's state in a `Combiner`: its series ids, offset and latest instants."""

    index: int
    shift_s: int = 0
    gauge_tags: Mapping[str, str] = field(default_factory=dict)
    by_id: dict[int, tuple[str, SeriesKey]] = field(default_factory=dict)
    last_at: float = 0.0
    ended_at: float | None = None


class Combiner:
    """Folds of several sources into one store (``store``) and, with a writer, one set of
    snapshot files."""

    def __init__(self, writer: SnapshotWriter | None = None, wall_start: float | None = None):
        self.store = MetricsStore(clock=frozen_clock)
        self.store.wall_start = writer.wall_start if writer is not None else wall_start
        if writer is not None:  # every combined fold is on disk: memory holds a window
            self.store.keep_window(writer)
        self._writer = writer
        self._ids: dict[tuple[str, SeriesKey], int] = {}
        self._totals: dict[int, dict[int, TrendTotals]] = {}  # combined id → source → totals
        self._ticks = 0
        self.sources: list[Source] = []

    def source(self, shift_s: int = 0, gauge_tags: Mapping[str, str] | None = None) -> Source:
        found = Source(len(self.sources), shift_s, dict(gauge_tags or {}))
        self.sources.append(found)
        return found

    def add(self, source: Source, fold: Fold, parts: Iterable[TrendPart] = ()) -> None:
        """Applies one of ``source``'s folds (and the trend intervals it committed)."""
        out = Fold(self._ticks + 1)
        shift = source.shift_s
        for d in fold.defs:
            key = self._retag(source, d.key) if d.kind == "g" else d.key
            source.by_id[d.id] = (d.kind, key)
            self._define(d.kind, key, out)
        for second, data in fold.seconds.items():
            moved = out.seconds.setdefault(second + shift, Delta())
            moved.counters.update(data.counters)
            for key, (passes, total) in data.rates.items():
                pair = moved.rates.setdefault(key, [0, 0])
                pair[0] += passes
                pair[1] += total
            for key, value in data.gauges.items():
                moved.gauges[self._retag(source, key)] = value
            moved.started += data.started
            moved.busy_us += data.busy_us
        for part in parts:
            self._define("t", part.key, out)
            trends = out.seconds.setdefault(part.second + shift, Delta()).trends
            mine = trends.setdefault(part.key, {})
            for bucket, n in part.counts.items():
                mine[bucket] = mine.get(bucket, 0) + n
        for sid, totals in fold.trend_totals.items():
            kind, key = source.by_id.get(sid, ("", ("", ())))
            if kind == "t":
                cid = self._ids[("t", key)]
                self._totals.setdefault(cid, {})[source.index] = totals
                out.trend_totals[cid] = _combined(self._totals[cid].values())
        for sid, (last, most, at) in fold.gauge_totals.items():
            kind, key = source.by_id.get(sid, ("", ("", ())))
            if kind == "g":
                out.gauge_totals[self._ids[("g", key)]] = (last, most, at + shift)
        source.last_at = max(source.last_at, fold.last_at + shift)
        if fold.ended_at is not None:
            source.ended_at = fold.ended_at + shift
        out.last_at = max(s.last_at for s in self.sources)
        self._commit(out)

    def finish(self) -> float:
        """Marks the combined run ended at the latest source's end (or latest observation, for
        a source cut short) and writes the last snapshot; returns that instant."""
        ends = [s.ended_at if s.ended_at is not None else s.last_at for s in self.sources]
        end = max([*ends, self.store.last_at])
        out = Fold(self._ticks + 1, last_at=max(end, self.store.last_at), ended_at=end)
        self._commit(out)
        return end

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def _define(self, kind: str, key: SeriesKey, out: Fold) -> None:
        if (kind, key) not in self._ids:
            cid = self._ids[(kind, key)] = len(self._ids)
            out.defs.append(SeriesDef(cid, kind, key))

    @staticmethod
    def _retag(source: Source, key: SeriesKey) -> SeriesKey:
        if not source.gauge_tags:
            return key
        return key[0], tag_key({**dict(key[1]), **source.gauge_tags})

    def _commit(self, out: Fold) -> None:
        self._ticks = out.tick
        self.store.apply_fold(out)
        if self._writer is not None:
            self._writer.write(out)


def _combined(parts: Iterable[TrendTotals]) -> TrendTotals:
    count, total, low, high = 0, 0.0, math.inf, -math.inf
    for n, s, lo, hi in parts:
        count, total, low, high = count + n, total + s, min(low, lo), max(high, hi)
    return count, total, low, high


def read_source(run_dir: Path) -> Iterator[tuple[Fold, list[TrendPart]]]:
    """A run directory's committed folds, each with the trend intervals it committed, one at a
    time (an interval's counts are read only when its fold comes)."""
    snapshots = read_snapshots(run_dir)
    intervals = committed_intervals(run_dir, snapshots)
    ahead = next(intervals, None)
    for fold in snapshots.folds:
        parts = []
        while ahead is not None and ahead.tick <= fold.tick:
            if ahead.tick == fold.tick:
                parts.append(TrendPart.of(ahead))
            ahead = next(intervals, None)
        yield fold, parts


class SnapshotStream:
    """A writer's output as it is handed over, one flush at a time (`SnapshotWriter`'s tee):
    `feed` gives back the folds each flush committed, with their trend intervals."""

    def __init__(self) -> None:
        self._lines = SnapshotLines()
        self._header: list[str] = []  # the interval log's StartTime and BaseTime
        self._parts: dict[int, list[TrendPart]] = {}

    @property
    def wall_start(self) -> float | None:
        return self._lines.wall_start

    def feed(self, hlog_text: str, jsonl_text: str) -> list[tuple[Fold, list[TrendPart]]]:
        lines = hlog_text.splitlines()
        self._header.extend(x for x in lines if x.startswith(("#[StartTime", "#[BaseTime")))
        for interval in read_intervals([*self._header, *lines]):
            self._parts.setdefault(interval.tick, []).append(TrendPart.of(interval))
        out = []
        for raw in jsonl_text.splitlines():
            fold = self._lines.read(raw)
            if fold is not None:
                out.append((fold, self._parts.pop(fold.tick, [])))
        return out
