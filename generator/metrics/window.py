"""A run's whole per-second series read back from its snapshots, for a store that holds only a
window of it in memory.

A store with a `SnapshotWriter` keeps the newest `SERIES_WINDOW_S` seconds of its series (what
the live dashboard builds its rows from) and lets the older ones go: they are on disk already, in
metrics.jsonl (counters, rates, gauges, iterations per second) and metrics.hlog (each trend's
histogram per second). `read_series` gives back the series of the whole run from those files,
equal to the one a store that kept every second holds, for whatever needs the whole run at its
end (the summary's VUs peak, the diagnosis' latency trend, report.html's charts). Reading costs
seconds × series, never observations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.metrics.queries import StoreTables
from generator.metrics.series import Series, SeriesKey, add_buckets
from generator.metrics.snapshots import SnapshotWriter, committed_intervals, read_snapshots

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


class SeriesWindow(StoreTables):
    """The store's tables with a series that may hold only its newest seconds (`keep_window`),
    and the whole run's series read back from the snapshot files when asked for."""

    ended_at: float | None  # the store's: seconds since its start at the run's end
    _end_folded: bool  # the store's: the end is folded in (no fold will follow)

    def __init__(self) -> None:
        super().__init__()
        self._files: SnapshotWriter | None = None  # where the seconds let go are
        self._whole: Series | None = None  # the whole series read back, once the run ended

    def keep_window(self, files: SnapshotWriter, window_s: int = SERIES_WINDOW_S) -> None:
        """Holds only the newest ``window_s`` seconds of the series in memory from now on, the
        whole run being in ``files``' snapshots (every fold of this store is written there: its
        own writer's, or combine.py's)."""
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
        self._files.flush()
        whole = read_series(self._files.run_dir)
        if self.ended_at is not None and self._end_folded:
            self._whole = whole
        return whole

    def series_rows(self) -> list[dict[str, Any]]:
        """One row per second of the whole run (series.rows)."""
        return self.whole_series().rows()
