"""Combining several sources' snapshots (generator/metrics/combine.py): from their run
directories or as handed over flush by flush, the combined store and the combined snapshot files
answer as one store that saw every observation."""

from __future__ import annotations

import random
from pathlib import Path

from generator.metrics.combine import Combiner, SnapshotStream, read_source
from generator.metrics.snapshots import SnapshotWriter
from generator.metrics.store import MetricsStore
from tests.support.clock import FakeClock


def _record(stores: list[MetricsStore], clock: FakeClock, single: MetricsStore) -> None:
    rng = random.Random(7)
    for step in range(4000):
        clock.now = 100.0 + step * 0.001
        if step % 500 == 0:
            for store in stores:
                store.tick()
        value = rng.lognormvariate(5, 1.2)
        tags = {"protocol": rng.choice(("native", "twilio"))}
        outcome = {"outcome": rng.choice(("succeeded", "failed"))}
        target = stores[rng.randrange(len(stores))]
        for store in (target, single):
            store.add_trend("turn_latency", value, tags)
            store.add_counter("calls_total", 1, outcome)
            store.add_rate("call_success", value < 300)


def _same(got: MetricsStore, whole: MetricsStore) -> None:
    assert got.trend("turn_latency").count == whole.trend("turn_latency").count == 4000
    for pct in (50, 90, 99, 99.9):
        assert got.trend("turn_latency").p(pct) == whole.trend("turn_latency").p(pct)
    twilio = {"protocol": "twilio"}
    assert got.trend("turn_latency", twilio).p(99) == whole.trend("turn_latency", twilio).p(99)
    assert got.trend("turn_latency").min == whole.trend("turn_latency").min
    assert got.trend("turn_latency").max == whole.trend("turn_latency").max
    assert got.counter_by("calls_total", "outcome") == whole.counter_by("calls_total", "outcome")
    assert got.rate("call_success") == whole.rate("call_success")
    assert sorted(got.series.seconds) == sorted(whole.series.seconds)
    for second, data in whole.series.seconds.items():
        assert got.series.seconds[second].trends == data.trends
        assert got.series.seconds[second].counters == data.counters


def test_combined_run_dirs_equal_one_store_of_every_sample(tmp_path: Path) -> None:
    clock = FakeClock(100.0)
    writers = [SnapshotWriter(tmp_path / str(i), wall_start=1000.0) for i in range(3)]
    stores = [MetricsStore(clock=clock, snapshots=w) for w in writers]
    single = MetricsStore(clock=clock)
    _record(stores, clock, single)
    for i, (store, writer) in enumerate(zip(stores, writers, strict=True)):
        store.add_gauge("vus", 2 + i, {"workload": "w"})
        store.finish()
        writer.close()
    single.finish()

    combiner = Combiner(SnapshotWriter(tmp_path / "merged", wall_start=1000.0))
    for i in range(3):
        source = combiner.source(gauge_tags={"slice": str(i)})
        for fold, parts in read_source(tmp_path / str(i)):
            combiner.add(source, fold, parts)
    end = combiner.finish()
    combiner.close()
    assert end == max(s.ended_at or 0.0 for s in stores)
    again = MetricsStore.from_snapshots(tmp_path / "merged")
    for got in (combiner.store, again):
        _same(got, single)
        assert got.gauge("vus", {"workload": "w"}) == (9.0, 9.0)  # 2 + 3 + 4, one per slice
        assert got.elapsed() == end
    assert again.series_rows() == combiner.store.series_rows()


def test_a_source_handed_over_flush_by_flush_combines_as_its_files(tmp_path: Path) -> None:
    clock = FakeClock(100.0)
    streams = [SnapshotStream(), SnapshotStream()]
    live = Combiner()
    sources = [live.source(gauge_tags={"slice": str(i)}) for i in range(2)]

    def tee_of(i: int):  # type: ignore[no-untyped-def]
        def tee(hlog: str, jsonl: str) -> None:
            for fold, parts in streams[i].feed(hlog, jsonl):
                live.add(sources[i], fold, parts)

        return tee

    writers = [SnapshotWriter(tmp_path / str(i), tee=tee_of(i)) for i in range(2)]
    stores = [MetricsStore(clock=clock, snapshots=w) for w in writers]
    single = MetricsStore(clock=clock)
    _record(stores, clock, single)
    for store, writer in zip(stores, writers, strict=True):
        store.finish()
        writer.close()
    live.finish()
    _same(live.store, single)
    assert streams[0].wall_start == writers[0].wall_start


def test_a_late_source_moves_by_its_whole_second_offset(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    writers = [SnapshotWriter(tmp_path / str(i), wall_start=50.0 + 2 * i) for i in range(2)]
    stores = [MetricsStore(clock=clock, snapshots=w) for w in writers]
    for store in stores:
        clock.now = 0.5
        store.add_counter("requests", 1)
        store.add_gauge("vus", 1)
        clock.now = 3.0
        store.finish()
    for writer in writers:
        writer.close()
    combiner = Combiner(wall_start=50.0)
    for i in range(2):
        source = combiner.source(shift_s=2 * i, gauge_tags={"slice": str(i)})
        for fold, parts in read_source(tmp_path / str(i)):
            combiner.add(source, fold, parts)
    assert combiner.finish() == 5.0  # the late source's end, on the earliest one's timeline
    seconds = combiner.store.series.seconds
    assert sum(seconds[0].counters.values()) == 1
    assert sum(seconds[2].counters.values()) == 1
    assert combiner.store.elapsed() == 5.0
