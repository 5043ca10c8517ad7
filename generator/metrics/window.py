"""Which seconds of its per-second series a store holds in memory, and the whole run's series
read back from the snapshots for a store that let the older ones go.

A store whose seconds are all on disk keeps only the newest `SERIES_WINDOW_S` of them (what the
live dashboard builds its rows from, ample for late observations): one that writes them (its
own `SnapshotWriter`, or the writer of combine.py's `Combiner`: the parent of `--workers`,
`callbench merge`) and one read from a run directory (`from_snapshots`, as `callbench report`
does). The older seconds are in metrics.jsonl (counters, rates, gauges, iterations per second)
and metrics.hlog (each trend's histogram per second). `read_series` gives back the whole run's
series from those files, equal to the one a store that kept every second holds, and `read_rows`
its rows a few seconds at a time, for whatever needs the whole run (the summary's VUs peak, the
diagnosis' latency trend, report.html's charts). Reading costs seconds × series, never
observations. A store with nothing on disk (in-process use, no writer; `window_s=None`; slices
read with their gauges retagged) keeps every second, and so does a store that others are merged
into (what is merged in is on no disk of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generator.metrics.hlog import Interval, read_intervals
from generator.metrics.queries import StoreTables
from generator.metrics.series import Second, Series, SeriesKey, add_buckets, row_of
from generator.metrics.snapshots import (
    METRICS_HLOG,
    METRICS_JSONL,
    Fold,
    SnapshotLines,
    SnapshotWriter,
    committed_intervals,
    read_snapshots,
)

# Seconds of the series a store with snapshots holds in memory, however long the run. A second
# of a fast HTTP mix holds ~75 KB (two trends of ~650 series buckets each, measured on a 20 s
# run at 10k req/s), so ten minutes would be ~45 MB: the window is one minute, full by the first
# minute's end (RSS flat from then on), ample for what changes after a second has passed (late
# observations, the newest seconds the live dashboard builds again: dashboard.RowCache.OPEN_S).
SERIES_WINDOW_S = 60


def read_series(run_dir: Path) -> Series:
    """The per-second series of the snapshots in ``run_dir``, every second of the run (as of
    its last whole snapshot when it was cut short)."""
    snapshots = read_snapshots(run_dir)
    series = Series()
    trends: set[SeriesKey] = set()
    for fold in snapshots.folds:
        trends.update(d.key for d in fold.defs if d.kind == "t")
        for second, data in fold.seconds.items():
            series.absorb(second, data)
    for interval in committed_intervals(run_dir, snapshots):
        if interval.key in trends:  # else: an interval of a series never defined (as the store)
            mine = series.at(interval.second).trends.setdefault(interval.key[0], {})
            add_buckets(mine, interval.counts.series_buckets())
    return series


def _folds(run_dir: Path) -> Iterator[tuple[Fold, list[Interval]]]:
    """The committed folds of ``run_dir``, each with its trend intervals, one at a time (both
    files read as they go: the hlog's lines of a tick come before the line committing it)."""
    hlog = run_dir / METRICS_HLOG
    with (run_dir / METRICS_JSONL).open(encoding="utf-8") as lines:
        handle = hlog.open(encoding="utf-8") if hlog.is_file() else None
        try:
            intervals = read_intervals(handle if handle is not None else ())
            ahead = next(intervals, None)
            reader = SnapshotLines()
            for raw in lines:
                fold = reader.read(raw)
                if fold is None:
                    continue
                parts = []
                while ahead is not None and ahead.tick <= fold.tick:
                    if ahead.tick == fold.tick:  # else a tick never committed: skipped
                        parts.append(ahead)
                    ahead = next(intervals, None)
                yield fold, parts
        finally:
            if handle is not None:
                handle.close()


def read_rows(run_dir: Path, hold_s: int = SERIES_WINDOW_S) -> list[dict[str, Any]]:
    """``read_series(run_dir).rows()``, holding the buckets of about ``hold_s`` seconds at a
    time rather than the whole run's (~75 KB a second of a fast HTTP mix: an 8-hour run's would
    be 2 GB): a second's row is made once the files have gone ``hold_s`` seconds past it. Only an
    iteration's end reaches back further (its `started` and busy time, added to the row's
    counts); a second that gains anything else later is read again at the end, so the rows are
    exact whatever the files hold."""
    held: dict[int, Second] = {}
    done: dict[int, tuple[dict[str, Any], int, int]] = {}  # row, iterations started, busy µs
    again: set[int] = set()
    trends: set[SeriesKey] = set()
    newest = 0
    for fold, parts in _folds(run_dir):
        trends.update(d.key for d in fold.defs if d.kind == "t")
        for second, delta in fold.seconds.items():
            if second in done:
                row, started, busy = done[second]
                done[second] = row, started + delta.started, busy + delta.busy_us
                if delta.trends or delta.counters or delta.rates or delta.gauges:
                    again.add(second)
            else:
                held.setdefault(second, Second()).absorb(delta)
        for interval in parts:
            if interval.key not in trends:
                continue
            if interval.second in done:
                again.add(interval.second)
                continue
            into = held.setdefault(interval.second, Second())
            add_buckets(
                into.trends.setdefault(interval.key[0], {}), interval.counts.series_buckets()
            )
        newest = max([newest, *held])
        for second in [s for s in held if s <= newest - hold_s]:
            data = held.pop(second)
            done[second] = row_of(second, data), data.started, data.busy_us
    for second, data in held.items():
        done[second] = row_of(second, data), data.started, data.busy_us
    if again:
        whole = read_series(run_dir)
        for second in again:
            data = whole.seconds[second]
            done[second] = row_of(second, data), data.started, data.busy_us
    if not done:
        return []
    rows = []
    quiet = Second()
    for second in range(min(done), max(done) + 1):
        found = done.get(second)
        if found is None:
            rows.append(row_of(second, quiet))
            continue
        row, started, busy = found
        row["iterations"] = {"started": started, "in_flight": busy / 1e6}
        rows.append(row)
    return rows


class SeriesWindow(StoreTables):
    """The store's tables with a series that may hold only its newest seconds (`keep_window`),
    and the whole run's series read back from the snapshot files when asked for."""

    ended_at: float | None  # the store's: seconds since its start at the run's end
    _end_folded: bool  # the store's: the end is folded in (no fold will follow)

    def __init__(self) -> None:
        super().__init__()
        self._files: SnapshotWriter | Path | None = None  # where the seconds let go are
        self._whole: Series | None = None  # the whole series read back, once the run ended
        self._rows: list[dict[str, Any]] | None = None  # its rows, the same

    def keep_window(self, files: SnapshotWriter | Path, window_s: int = SERIES_WINDOW_S) -> None:
        """Holds only the newest ``window_s`` seconds of the series in memory from now on, the
        whole run being in ``files``' snapshots: a writer every fold of this store goes to (its
        own, or combine.py's), or the run directory the store was read from."""
        self._files = files
        self._series.window_s = window_s

    def whole_series(self) -> Series:
        """The series of every second of the run: the one in memory, or, once seconds were let
        go, read back from the snapshot files (kept once the run has ended)."""
        series = self.series
        if series.held_from is None or self._files is None:
            return series
        if self._whole is not None:
            return self._whole
        whole = read_series(self._run_dir(self._files))
        if self.ended_at is not None and self._end_folded:
            self._whole = whole
        return whole

    def series_rows(self) -> list[dict[str, Any]]:
        """One row per second of the whole run (series.rows): from memory, or, once seconds
        were let go, read back from the snapshot files a few seconds at a time (`read_rows`)."""
        series = self.series
        if series.held_from is None or self._files is None:
            return series.rows()
        if self._rows is None:
            rows = read_rows(self._run_dir(self._files))
            if not (self.ended_at is not None and self._end_folded):
                return rows
            self._rows = rows
        return list(self._rows)

    @staticmethod
    def _run_dir(files: SnapshotWriter | Path) -> Path:
        if isinstance(files, Path):
            return files
        files.flush()  # what was folded so far is on disk before it is read
        return files.run_dir
