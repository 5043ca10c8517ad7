"""Shards that started apart merge by wall-clock second: each slice's per-second buckets move by
its start minus the earliest start (exactly for events, by whole seconds for snapshots)."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from generator.distributed.align import start_offsets, wall_start, whole_seconds
from generator.distributed.merge import mark_slice, merge_run_dirs
from generator.metrics.events import EventSink
from generator.metrics.snapshots import SnapshotWriter
from generator.metrics.store import MetricsStore
from generator.scenario import Scenario, scenario_from_dict
from tests.support.clock import FakeClock

WALL = 1_796_187_600.0
STEPS = [0.05 + 0.1 * k for k in range(30)]  # own seconds 0, 1 and 2, ten observations each


def _whole() -> Scenario:
    return scenario_from_dict(
        {
            "name": "sharded",
            "workloads": {
                "http": {
                    "type": "http",
                    "config": {"base_url": "http://127.0.0.1:9", "health_path": None},
                    "load": {"executor": "shared-iterations", "vus": 2, "iterations": 60},
                }
            },
            "thresholds": ["calls_total:count==60"],
        }
    )


def _shard(run_dir: Path, index: int, wall: float, monotonic_start: float) -> None:
    """A finished shard whose store started at wall-clock ``wall`` (the header's instant)."""
    run_dir.mkdir(parents=True)
    clock = FakeClock(monotonic_start)  # each process's monotonic clock has its own origin
    sink = EventSink(run_dir / "events.jsonl", clock=clock)
    store = MetricsStore(clock=clock, sink=sink)
    for step in STEPS:
        clock.now = monotonic_start + step
        store.add_counter("calls_total", 1)
        store.add_trend("turn_latency", 100.0 * (index + 1))
    store.finish()
    sink.close()
    path = run_dir / "events.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] = json.dumps({"k": "start", "format": 1, "wall": wall})  # the injected wall clock
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = {"name": "sharded", "status": "completed", "started_at": "2026-12-02T05:00:00+00:00"}
    (run_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    mark_slice(run_dir, index, 2, _whole())


def _expected(offsets: list[float]) -> list[int]:
    per_second: Counter[int] = Counter()
    for offset in offsets:
        for step in STEPS:
            per_second[math.floor(offset + step + 1e-9)] += 1
    return [per_second[s] for s in range(max(per_second) + 1)]


@pytest.mark.parametrize("late_s", [2.0, 1.5, 0.0])
def test_shards_started_apart_line_up_by_wall_clock_second(tmp_path: Path, late_s: float) -> None:
    first, second = tmp_path / "shard-0", tmp_path / "shard-1"
    _shard(second, 1, WALL + late_s, monotonic_start=5_000.0)  # scheduled later, listed first
    _shard(first, 0, WALL, monotonic_start=100.0)
    assert json.loads((second / "run.json").read_text())["wall_start"] == WALL + late_s

    outcome = merge_run_dirs([second, first], tmp_path / "merged")
    assert outcome.exit_code == 0
    merged = MetricsStore.from_events(tmp_path / "merged" / "events.jsonl")
    rows = merged.series_rows()
    counts = [row["counters"].get("calls_total", 0) for row in rows]
    assert counts == _expected([0.0, late_s])
    assert counts != _expected([0.0, 0.0]) or late_s == 0.0  # unaligned they would pile up
    # the late shard's values (200 ms) appear only from its first wall-clock second on
    late_rows = [row["t"] for row in rows if row["trends"]["turn_latency"]["p99"] >= 150.0]
    assert min(late_rows) == math.floor(late_s + STEPS[0])
    assert merged.counter("calls_total") == 60
    assert merged.ended_at == pytest.approx(max(late_s, 0.0) + STEPS[-1], abs=1e-3)
    meta = json.loads((tmp_path / "merged" / "run.json").read_text())
    assert meta["wall_start"] == WALL
    assert meta["slice_offsets_s"] == {"1": late_s, "0": 0.0}
    assert wall_start(tmp_path / "merged", meta) == WALL  # a merged run merges again


def test_a_slice_without_a_known_start_counts_from_the_earliest() -> None:
    assert start_offsets([WALL + 3.0, None, WALL]) == [3.0, 0.0, 0.0]
    assert start_offsets([None, None]) == [0.0, 0.0]
    assert whole_seconds([0.0, 1.4, 1.6, 2.5]) == [0, 1, 2, 2]


def test_the_start_falls_back_to_run_json(tmp_path: Path) -> None:
    assert wall_start(tmp_path, {"started_at": "2026-12-02T05:00:07+00:00"}) == WALL + 7
    assert wall_start(tmp_path, {"started_at": "2026-12-02T05:00:07"}) is None  # no timezone
    assert wall_start(tmp_path, {}) is None
    (tmp_path / "events.jsonl").write_text('{"k":"t","n":"x","g":{},"t":0.1,"v":1}\n')
    assert wall_start(tmp_path, {"wall_start": WALL}) == WALL


def test_snapshots_align_by_whole_seconds(tmp_path: Path) -> None:
    """The same offsets applied to per-second snapshots (metrics.jsonl + metrics.hlog), whose
    buckets can move by whole seconds only: `MetricsStore.merge(..., shift_s=...)`."""
    walls = (WALL + 0.4, WALL + 2.3)  # offsets 0 and 1.9: the second slice moves 2 s
    for i, wall in enumerate(walls):
        clock = FakeClock(100.0)
        writer = SnapshotWriter(tmp_path / str(i), wall_start=wall)
        store = MetricsStore(clock=clock, snapshots=writer)
        for step in STEPS:
            clock.now = 100.0 + step
            store.add_counter("calls_total", 1)
        store.finish()
        writer.close()
    dirs = [tmp_path / "0", tmp_path / "1"]
    starts = [wall_start(d) for d in dirs]
    assert starts == list(walls)
    shifts = whole_seconds(start_offsets(starts))
    assert shifts == [0, 2]
    merged = MetricsStore.from_snapshots(dirs[0])
    merged.merge(MetricsStore.from_snapshots(dirs[1]), shift_s=shifts[1])
    counts = [row["counters"].get("calls_total", 0) for row in merged.series_rows()]
    assert counts == _expected([0.0, 2.0])


def _snapshot_shard(run_dir: Path, index: int, wall: float) -> None:
    """A finished shard as runs write them now: snapshots only, its store started at ``wall``."""
    clock = FakeClock(300.0)
    writer = SnapshotWriter(run_dir, wall_start=wall)
    store = MetricsStore(clock=clock, snapshots=writer)
    for step in STEPS:
        clock.now = 300.0 + step
        store.add_counter("calls_total", 1)
        store.add_trend("turn_latency", 100.0 * (index + 1))
    store.finish()
    writer.close()
    meta = {"name": "sharded", "status": "completed", "started_at": "2026-12-02T05:00:00+00:00"}
    (run_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    mark_slice(run_dir, index, 2, _whole())


def test_a_shard_written_before_snapshots_merges_with_one_written_after(tmp_path: Path) -> None:
    """An events-only slice is recorded again into snapshots, moved exactly by its offset; the
    merged run directory holds snapshots, which `callbench report` reads."""
    old, new = tmp_path / "old", tmp_path / "new"
    _shard(old, 1, WALL + 1.5, monotonic_start=5_000.0)
    _snapshot_shard(new, 0, WALL)
    outcome = merge_run_dirs([old, new], tmp_path / "merged")
    assert outcome.exit_code == 0
    merged_dir = tmp_path / "merged"
    assert (merged_dir / "metrics.jsonl").is_file()
    assert not (merged_dir / "events.jsonl").exists()  # the new slice has no raw events
    merged = MetricsStore.from_snapshots(merged_dir)
    counts = [row["counters"].get("calls_total", 0) for row in merged.series_rows()]
    assert counts == _expected([0.0, 1.5])
    assert merged.counter("calls_total") == 60
    assert merged.trend("turn_latency").count == 60
    assert merged.trend("turn_latency").max == pytest.approx(200.0, rel=1e-3)
    assert merged.ended_at == pytest.approx(1.5 + STEPS[-1], abs=1e-3)
    assert outcome.summary.counters["calls_total"] == 60
