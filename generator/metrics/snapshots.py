"""RUN_DIR/metrics.jsonl + metrics.hlog: the store's snapshots, written once a second.

A snapshot (a `Fold`) is what the store recorded since the previous one, per second it fell in:
trends go to the interval log (hlog.py, one histogram per second and tag set), everything else
to metrics.jsonl, one compact JSON line per second and series (docs/results-files.md):

    {"k":"start","format":1,"wall":1732260000.123,"hlog":"metrics.hlog"}
    {"k":"def","id":0,"m":"t","n":"turn_latency","g":{"protocol":"native"}}
    {"k":"c","s":3,"id":1,"v":12}                 counter: added in second 3
    {"k":"r","s":3,"id":2,"v":[10,12]}            rate: passes, total in second 3
    {"k":"g","s":3,"id":3,"v":-2.5}               gauge: its last value in second 3
    {"k":"i","s":3,"v":[40,1250000]}              iterations started, µs spent in second 3
    {"k":"tt","id":0,"v":[812,40312.5,3.2,911.0]} trend so far: count, sum, min, max (ms)
    {"k":"gt","id":3,"v":[-2.5,4.0,3.25]}         gauge so far: last, highest, at (s)
    {"k":"end","t":20.5}                          the run's end (only when it ended)
    {"k":"tick","n":7,"t":20.5}                   snapshot 7 complete; t: latest observation

A series is defined once (`def`, in the order the store first saw it) and named by its id. Lines
of one snapshot count only once its `tick` line is there, and its hlog lines only under a
`#[Tick: N]` that metrics.jsonl committed, so a run killed while writing reads as of its last
whole snapshot. Totals are cumulative (a float sum re-added from parts would differ in its last
bits); counts per second add up exactly. The files grow with seconds × series, never with the
number of observations.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from generator.metrics.hlog import (
    Interval,
    IntervalEncoder,
    header_lines,
    read_intervals,
    tick_line,
)
from generator.metrics.queries import tag_key
from generator.metrics.series import Delta, SeriesKey, TagKey

FORMAT_VERSION = 1
METRICS_JSONL = "metrics.jsonl"
METRICS_HLOG = "metrics.hlog"
KINDS = ("t", "c", "r", "g")  # trend, counter, rate, gauge


@dataclass(frozen=True)
class SeriesDef:
    id: int
    kind: str
    key: SeriesKey


@dataclass
class Fold:
    """One snapshot: the series first seen since the last one, what each second got, and the
    totals of the trends and gauges that changed."""

    tick: int
    defs: list[SeriesDef] = field(default_factory=list)
    seconds: dict[int, Delta] = field(default_factory=dict)
    trend_totals: dict[int, tuple[int, float, float, float]] = field(default_factory=dict)
    gauge_totals: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    last_at: float = 0.0
    ended_at: float | None = None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# Told of each flush's text, interval log first: (metrics.hlog lines, metrics.jsonl lines). A
# `--workers` child hands its snapshots to the parent this way (generator/distributed/handover.py).
Tee = Callable[[str, str], None]


class SnapshotWriter:
    """Writes a store's folds to RUN_DIR/metrics.jsonl and metrics.hlog. `write` only buffers;
    `flush` (the store's `tick`, once a second) writes the interval log first, then the lines
    that commit it, and hands the same text to ``tee`` when there is one."""

    def __init__(
        self,
        run_dir: Path,
        wall_start: float | None = None,
        tee: Tee | None = None,
    ) -> None:
        self._tee = tee
        self.run_dir = run_dir  # where the files are: a windowed store reads its series back
        self.wall_start = time.time() if wall_start is None else wall_start
        run_dir.mkdir(parents=True, exist_ok=True)
        # "w": a run directory given again starts afresh rather than mixing in the old run.
        self._jsonl: IO[str] | None = (run_dir / METRICS_JSONL).open("w", encoding="utf-8")
        self._hlog: IO[str] | None = (run_dir / METRICS_HLOG).open("w", encoding="utf-8")
        self._encoder = IntervalEncoder()
        self._ids: dict[tuple[str, SeriesKey], int] = {}
        self._lines: list[str] = [
            _dumps(
                {
                    "k": "start",
                    "format": FORMAT_VERSION,
                    "wall": self.wall_start,
                    "hlog": METRICS_HLOG,
                }
            )
        ]
        self._intervals: list[str] = header_lines(self.wall_start)
        self.flush()

    def write(self, fold: Fold) -> None:
        ids, lines, intervals = self._ids, self._lines, self._intervals
        for d in fold.defs:
            ids[(d.kind, d.key)] = d.id
            name, tags = d.key
            lines.append(_dumps({"k": "def", "id": d.id, "m": d.kind, "n": name, "g": dict(tags)}))
        intervals.append(tick_line(fold.tick))
        line = self._encoder.line
        for second in sorted(fold.seconds):
            data = fold.seconds[second]
            start = self.wall_start + second
            intervals.extend(line(key, start, counts) for key, counts in data.trends.items())
            for key, n in data.counters.items():
                lines.append(f'{{"k":"c","s":{second},"id":{ids["c", key]},"v":{n}}}')
            for key, (passes, total) in data.rates.items():
                lines.append(
                    f'{{"k":"r","s":{second},"id":{ids["r", key]},"v":[{passes},{total}]}}'
                )
            for key, value in data.gauges.items():
                lines.append(_dumps({"k": "g", "s": second, "id": ids["g", key], "v": value}))
            if data.started or data.busy_us:
                lines.append(f'{{"k":"i","s":{second},"v":[{data.started},{data.busy_us}]}}')
        for sid, trend in fold.trend_totals.items():
            lines.append(_dumps({"k": "tt", "id": sid, "v": list(trend)}))
        for sid, gauge in fold.gauge_totals.items():
            lines.append(_dumps({"k": "gt", "id": sid, "v": list(gauge)}))
        if fold.ended_at is not None:
            lines.append(_dumps({"k": "end", "t": fold.ended_at}))
        lines.append(_dumps({"k": "tick", "n": fold.tick, "t": fold.last_at}))

    def flush(self) -> None:
        texts = ["\n".join(b) + "\n" if b else "" for b in (self._intervals, self._lines)]
        for handle, text in zip((self._hlog, self._jsonl), texts, strict=True):
            if handle is not None and text:
                handle.write(text)
                handle.flush()
        self._intervals.clear()
        self._lines.clear()
        if self._tee is not None and any(texts):
            self._tee(texts[0], texts[1])

    def close(self) -> None:
        self.flush()
        for handle in (self._hlog, self._jsonl):
            if handle is not None:
                handle.close()
        self._hlog = self._jsonl = None


@dataclass
class Snapshots:
    """A run's committed folds, read back (`read_snapshots`)."""

    wall_start: float | None
    folds: list[Fold]


def has_snapshots(run_dir: Path) -> bool:
    return (run_dir / METRICS_JSONL).is_file()


def read_snapshots(run_dir: Path) -> Snapshots:
    """The folds of a run directory's metrics.jsonl, up to the last one it committed (their
    trends are in the interval log: `committed_intervals`); a line that does not parse (a torn
    write, a newer format's record) is skipped."""
    reader = SnapshotLines()
    folds = []
    with (run_dir / METRICS_JSONL).open(encoding="utf-8") as handle:
        for raw in handle:
            fold = reader.read(raw)
            if fold is not None:
                folds.append(fold)
    return Snapshots(reader.wall_start, folds)


class SnapshotLines:
    """Reads metrics.jsonl one line at a time (a file, or a worker's lines as they are handed
    over): `read` gives back each fold once its tick line commits it."""

    def __init__(self) -> None:
        self.wall_start: float | None = None
        self._pending = Fold(0)
        self._by_id: dict[int, tuple[str, SeriesKey]] = {}

    def read(self, raw: str) -> Fold | None:
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            return None
        if not isinstance(event, dict):
            return None
        kind = event.get("k")
        try:
            if kind == "tick":
                fold = self._pending
                fold.tick, fold.last_at = int(event["n"]), float(event["t"])
                self._pending = Fold(0)
                return fold
            if kind == "start":
                self.wall_start = float(event["wall"])
            else:
                _read_line(event, self._pending, self._by_id)
        except (KeyError, TypeError, ValueError, IndexError):
            pass
        return None


def _read_line(
    event: Mapping[str, Any], fold: Fold, by_id: dict[int, tuple[str, SeriesKey]]
) -> None:
    kind = event["k"]
    if kind == "def":
        tags: TagKey = tuple((str(k), str(v)) for k, v in dict(event["g"]).items())
        d = SeriesDef(int(event["id"]), str(event["m"]), (str(event["n"]), tags))
        if d.kind in KINDS:
            by_id[d.id] = (d.kind, d.key)
            fold.defs.append(d)
        return
    if kind == "end":
        fold.ended_at = float(event["t"])
        return
    if kind == "tt":
        count, total, low, high = event["v"]
        fold.trend_totals[int(event["id"])] = (int(count), float(total), float(low), float(high))
        return
    if kind == "gt":
        last, most, at = event["v"]
        fold.gauge_totals[int(event["id"])] = (float(last), float(most), float(at))
        return
    if kind not in ("c", "r", "g", "i"):
        return  # a newer format's record
    second = fold.seconds.setdefault(int(event["s"]), Delta())
    if kind == "i":
        started, busy = event["v"]
        second.started += int(started)
        second.busy_us += int(busy)
        return
    series_kind, key = by_id[int(event["id"])]
    if series_kind != kind:
        return
    if kind == "c":
        second.counters[key] += int(event["v"])
    elif kind == "r":
        passes, total = event["v"]
        pair = second.rates.setdefault(key, [0, 0])
        pair[0] += int(passes)
        pair[1] += int(total)
    elif kind == "g":
        second.gauges[key] = float(event["v"])


def retag_gauges(fold: Fold, gauge_tags: Mapping[str, str]) -> None:
    """Adds ``gauge_tags`` to the tags of every gauge ``fold`` names (see `from_snapshots`)."""

    def retag(key: SeriesKey) -> SeriesKey:
        return key[0], tag_key({**dict(key[1]), **gauge_tags})

    fold.defs = [SeriesDef(d.id, d.kind, retag(d.key)) if d.kind == "g" else d for d in fold.defs]
    for data in fold.seconds.values():
        data.gauges = {retag(key): value for key, value in data.gauges.items()}


def committed_intervals(run_dir: Path, snapshots: Snapshots) -> Iterator[Interval]:
    """The interval log's histograms of the snapshots metrics.jsonl committed, one at a time."""
    hlog = run_dir / METRICS_HLOG
    if not hlog.is_file():
        return
    ticks = {fold.tick for fold in snapshots.folds}
    with hlog.open(encoding="utf-8") as handle:
        yield from read_intervals(handle, ticks)
