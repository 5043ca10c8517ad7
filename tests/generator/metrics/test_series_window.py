"""A store that writes snapshots holds only a window of its per-second series in memory, however
long the run, and still gives every second of the run back (read from its files) to what needs
the whole run at the end: the summary, the diagnosis and report.html's charts."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from generator.metrics.combine import Combiner, read_source
from generator.metrics.snapshots import SnapshotWriter
from generator.metrics.store import ITERATION_TREND, MetricsStore
from generator.metrics.window import SERIES_WINDOW_S, read_rows, read_series
from generator.report.html_data import series_charts
from tests.support.clock import FakeClock

WALL = 1_732_260_000.0


def _second_of_load(stores: list[MetricsStore], clock: FakeClock, rng: random.Random) -> None:
    """One simulated second of an HTTP mix into each of ``stores`` (the same observations),
    then the runner's once-a-second tick."""
    start = clock.now
    for _ in range(40):
        clock.advance(rng.uniform(0.0, 0.02))
        status = rng.choice(("200", "200", "200", "503"))
        value = rng.lognormvariate(1.5, 1.0)
        late = rng.uniform(0.0, 90.0) if rng.random() < 0.05 else rng.uniform(0.0, 0.5)
        for store in stores:
            store.add_trend("http_req_duration", value, {"status": status})
            store.add_counter("http_reqs", 1, {"status": status})
            store.add_rate("checks", status == "200")
            # iterations up to 90 s long: their end reaches back into seconds let go
            store.add_trend(ITERATION_TREND, late * 1000.0, {"workload": "mix"})
    clock.now = start + 0.99  # 40 steps of at most 20 ms: still in this second
    vus = rng.randrange(1, 50)
    for store in stores:
        store.add_gauge("vus", vus, {"workload": "mix"})
        store.tick()
    clock.now = start + 1.0


@pytest.mark.timeout(120)
def test_memory_holds_the_window_and_the_report_every_second(tmp_path: Path) -> None:
    rng = random.Random(17)
    clock = FakeClock(50.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    windowed = MetricsStore(clock=clock, snapshots=writer)  # as the runner makes it
    whole = MetricsStore(clock=clock)  # in-process, no files: keeps every second
    seconds = 3 * SERIES_WINDOW_S
    held = []
    for _ in range(seconds):
        _second_of_load([windowed, whole], clock, rng)
        held.append(len(windowed.series.seconds))
    assert max(held) == SERIES_WINDOW_S  # the window, then no more however long the run
    assert len(whole.series.seconds) == seconds
    assert min(windowed.series.seconds) == seconds - SERIES_WINDOW_S
    windowed.finish()
    whole.finish()
    writer.close()

    rows = windowed.series_rows()  # read back from the snapshot files
    assert [row["t"] for row in rows] == list(range(seconds))
    assert rows == whole.series_rows()
    assert rows[0]["counters"]  # the first second, let go of long ago, is there
    duration = windowed.elapsed()
    assert series_charts(rows, duration) == series_charts(whole.series_rows(), duration)
    assert windowed.series_rows() is not rows  # a fresh list; the read-back series is kept
    assert windowed.whole_series() is windowed.whole_series()
    # read back as `callbench report` does: the same window, the same rows
    back = MetricsStore.from_snapshots(tmp_path)
    assert sorted(back.series.seconds) == sorted(windowed.series.seconds)
    assert back.series_rows() == rows
    # a slice read with its gauges retagged has them so on no disk: it keeps every second
    sliced = MetricsStore.from_snapshots(tmp_path, gauge_tags={"slice": "0"})
    assert len(sliced.series.seconds) == seconds
    # totals never were windowed
    assert windowed.trend("http_req_duration") == whole.trend("http_req_duration")
    assert windowed.counter_by("http_reqs", "status") == whole.counter_by("http_reqs", "status")


@pytest.mark.timeout(60)
def test_an_interrupted_run_reads_back_to_its_last_snapshot(tmp_path: Path) -> None:
    rng = random.Random(3)
    clock = FakeClock(0.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    store = MetricsStore(clock=clock, snapshots=writer, window_s=5)
    for _ in range(40):
        _second_of_load([store], clock, rng)
    assert sorted(store.series.seconds) == list(range(35, 40))
    # live (no end yet): the whole run is read back each time it is asked for
    assert [row["t"] for row in store.series_rows()] == list(range(40))
    _second_of_load([store], clock, rng)
    assert [row["t"] for row in store.series_rows()] == list(range(41))
    writer.close()  # killed: no end snapshot
    assert read_series(tmp_path).rows() == store.series_rows()
    assert MetricsStore.from_snapshots(tmp_path).series_rows() == store.series_rows()


@pytest.mark.timeout(60)
def test_a_store_without_files_or_window_keeps_every_second(tmp_path: Path) -> None:
    rng = random.Random(5)
    clock = FakeClock(0.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    unbounded = MetricsStore(clock=clock, snapshots=writer, window_s=None)
    in_process = MetricsStore(clock=clock)
    for _ in range(30):
        _second_of_load([unbounded, in_process], clock, rng)
    assert len(unbounded.series.seconds) == len(in_process.series.seconds) == 30
    assert unbounded.series.held_from is None
    writer.close()


@pytest.mark.timeout(60)
def test_the_parent_of_workers_holds_a_window_of_the_combined_series(tmp_path: Path) -> None:
    rng = random.Random(11)
    clock = FakeClock(0.0)
    writers = [SnapshotWriter(tmp_path / str(i), wall_start=WALL) for i in range(2)]
    stores = [MetricsStore(clock=clock, snapshots=w, window_s=4) for w in writers]
    whole = MetricsStore(clock=clock)
    for _ in range(30):
        _second_of_load([stores[rng.randrange(2)]], clock, rng)
    for store, writer in zip(stores, writers, strict=True):
        store.finish()
        writer.close()
        whole.merge(MetricsStore.from_snapshots(writer.run_dir))
    out = SnapshotWriter(tmp_path / "out", wall_start=WALL)
    combiner = Combiner(out)
    assert combiner.store.series.window_s == SERIES_WINDOW_S  # its folds are all in `out`
    combiner.store.keep_window(out, window_s=4)  # a short run, a short window
    sources = [combiner.source() for _ in stores]
    held = []
    for source, writer in zip(sources, writers, strict=True):
        for fold, parts in read_source(writer.run_dir):
            combiner.add(source, fold, parts)
            held.append(len(combiner.store.series.seconds))
    combiner.finish()
    combiner.close()
    assert max(held) == 4
    rows = combiner.store.series_rows()
    assert [row["t"] for row in rows] == list(range(30))
    assert [r["counters"] for r in rows] == [r["counters"] for r in whole.series_rows()]
    # a windowed store merged into another hands over every second, not its window
    merged = MetricsStore(clock=clock)
    for store in stores:
        merged.merge(store)
    assert [r["counters"] for r in merged.series_rows()] == [
        r["counters"] for r in whole.series_rows()
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("hold_s", [1, 3, 60])
def test_rows_read_back_a_few_seconds_at_a_time_equal_the_whole_series(
    tmp_path: Path, hold_s: int
) -> None:
    rng = random.Random(hold_s)
    clock = FakeClock(0.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    store = MetricsStore(clock=clock, snapshots=writer, window_s=None)
    for _ in range(25):
        _second_of_load([store], clock, rng)
        # late observations, seconds back: rows already made must be made again
        back = max(0.0, clock.now - rng.uniform(0.0, 6.0))
        store.add_counter("http_reqs", 1, {"status": "late"}, at=back)
        store.add_trend("http_req_duration", 5.0, {"status": "late"}, at=back)
    store.finish()
    writer.close()
    expected = store.series_rows()
    assert [row["t"] for row in expected] == list(range(25))
    assert read_rows(tmp_path, hold_s=hold_s) == expected == read_series(tmp_path).rows()
