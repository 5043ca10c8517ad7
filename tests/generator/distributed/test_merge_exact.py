"""Merging N slices' stores gives what one store holding every sample gives."""

from __future__ import annotations

import random
from pathlib import Path

from generator.distributed.tail import (
    EventTail,
    copy_event_files,
    merge_event_files,
    replay,
    replay_store,
)
from generator.metrics.events import EventSink
from generator.metrics.store import MetricsStore
from tests.support.clock import FakeClock


def _record(stores: list[MetricsStore], clock: FakeClock, single: MetricsStore) -> None:
    rng = random.Random(3)
    for step in range(3000):
        clock.now = 100.0 + step * 0.002
        value = rng.lognormvariate(5, 1.2)
        tags = {"protocol": rng.choice(("native", "twilio"))}
        outcome = {"outcome": rng.choice(("succeeded", "failed"))}
        target = stores[rng.randrange(len(stores))]
        for store in (target, single):
            store.add_trend("turn_latency", value, tags)
            store.add_counter("calls_total", 1, outcome)
            store.add_rate("call_success", value < 300)


def test_merged_percentiles_equal_one_histogram_of_all_samples(tmp_path: Path) -> None:
    clock = FakeClock(100.0)
    sinks = [EventSink(tmp_path / f"w{i}.jsonl", clock=clock) for i in range(3)]
    workers = [MetricsStore(clock=clock, sink=sink) for sink in sinks]
    single = MetricsStore(clock=clock)
    _record(workers, clock, single)
    for store, sink in zip(workers, sinks, strict=True):
        store.finish()
        sink.close()

    in_memory = MetricsStore(clock=clock)
    for store in workers:
        in_memory.merge(store)
    from_files, ends = merge_event_files((str(i), tmp_path / f"w{i}.jsonl") for i in range(3))
    assert all(end is not None for end in ends)

    for merged in (in_memory, from_files):
        whole, got = single.trend("turn_latency"), merged.trend("turn_latency")
        assert got.count == whole.count == 3000
        for pct in (50, 90, 95, 99, 99.9):
            assert got.p(pct) == whole.p(pct)
        assert merged.trend("turn_latency", {"protocol": "twilio"}).p(99) == single.trend(
            "turn_latency", {"protocol": "twilio"}
        ).p(99)
        assert merged.counter_by("calls_total", "outcome") == single.counter_by(
            "calls_total", "outcome"
        )
        assert merged.rate("call_success") == single.rate("call_success")
        assert sorted(merged.series.seconds) == sorted(single.series.seconds)
        for second, data in single.series.seconds.items():
            assert merged.series.seconds[second].trends == data.trends


def test_the_merged_events_jsonl_rebuilds_the_merged_store(tmp_path: Path) -> None:
    clock = FakeClock(100.0)
    sinks = [EventSink(tmp_path / f"w{i}.jsonl", clock=clock) for i in range(2)]
    workers = [MetricsStore(clock=clock, sink=sink) for sink in sinks]
    _record(workers, clock, MetricsStore(clock=clock))
    for i, (store, sink) in enumerate(zip(workers, sinks, strict=True)):
        store.add_gauge("vus", 3 + i, {"workload": "w"})
        store.finish()
        sink.close()
    sink = EventSink(tmp_path / "merged.jsonl")
    merged, _ = merge_event_files(((str(i), tmp_path / f"w{i}.jsonl") for i in range(2)), sink)
    sink.close()
    lines = (tmp_path / "merged.jsonl").read_text(encoding="utf-8").splitlines()
    assert sum('"k":"start"' in line for line in lines) == 1
    assert sum('"k":"end"' in line for line in lines) == 1
    again = MetricsStore.from_events(tmp_path / "merged.jsonl")
    assert again.trend("turn_latency").count == merged.trend("turn_latency").count == 3000
    for pct in (50, 99, 99.9):
        assert again.trend("turn_latency").p(pct) == merged.trend("turn_latency").p(pct)
    assert again.counter_by("calls_total", "outcome") == merged.counter_by("calls_total", "outcome")
    assert again.rate("call_success") == merged.rate("call_success")
    assert again.gauge("vus", {"workload": "w"}) == merged.gauge("vus", {"workload": "w"})
    assert again.gauge("vus", {"workload": "w"}) == (7.0, 7.0)  # each slice's part, tagged
    assert again.elapsed() == merged.elapsed()
    assert again.series_rows() == merged.series_rows()


def test_gauges_of_slices_add_up(tmp_path: Path) -> None:
    for i, vus in enumerate((3, 4)):
        path = tmp_path / f"{i}.jsonl"
        path.write_text(
            '{"k":"start","format":1,"wall":0}\n'
            f'{{"k":"g","t":1.0,"n":"vus","v":{vus},"g":{{"workload":"w"}}}}\n'
            '{"k":"end","t":1.5}\n',
            encoding="utf-8",
        )
    store, _ = merge_event_files((str(i), tmp_path / f"{i}.jsonl") for i in range(2))
    assert store.gauge("vus", {"workload": "w"}) == (7.0, 7.0)
    assert store.elapsed() == 1.5


def test_tail_hands_out_complete_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.read_new() == []
    with path.open("w", encoding="utf-8") as handle:
        handle.write('{"k":"c","t":0.5,"n":"iterations","v":1,"g":{}}\n{"k":"c","t":0.6,')
        handle.flush()
        store = replay_store()
        for event in tail.read_new():
            replay(store, event, "0")
        assert store.counter("iterations") == 1
        handle.write('"n":"iterations","v":2,"g":{}}\n')
        handle.flush()
        for event in tail.read_new():
            replay(store, event, "0")
    assert store.counter("iterations") == 3


def test_copied_raw_events_read_back_as_the_replayed_merge(tmp_path: Path) -> None:
    """copy_event_files (the raw events of a snapshot merge: lines copied as text, times moved)
    writes what merge_event_files writes, read back."""
    clock = FakeClock(100.0)
    sinks = [EventSink(tmp_path / f"w{i}.jsonl.gz", clock=clock) for i in range(2)]
    workers = [MetricsStore(clock=clock, sink=sink) for sink in sinks]
    _record(workers, clock, MetricsStore(clock=clock))
    for i, (store, sink) in enumerate(zip(workers, sinks, strict=True)):
        store.add_gauge("vus", 3 + i, {"workload": "w"})
        store.finish()
        sink.close()
    paths = [(str(i), tmp_path / f"w{i}.jsonl.gz") for i in range(2)]
    shifts = {"0": 0.0, "1": 1.25}
    replayed = EventSink(tmp_path / "replayed.jsonl")
    merge_event_files(paths, replayed, shifts=shifts, wall=50.0)
    replayed.close()
    copied = EventSink(tmp_path / "copied.jsonl.gz")
    end = copy_event_files(paths, copied, shifts=shifts, wall=50.0)
    copied.close()
    a = MetricsStore.from_events(tmp_path / "replayed.jsonl")
    b = MetricsStore.from_events(tmp_path / "copied.jsonl.gz")
    assert end == a.ended_at == b.ended_at
    assert b.trend("turn_latency").count == 3000
    for pct in (50, 99, 99.9):
        assert b.trend("turn_latency").p(pct) == a.trend("turn_latency").p(pct)
    assert b.counter_by("calls_total", "outcome") == a.counter_by("calls_total", "outcome")
    assert b.rate("call_success") == a.rate("call_success")
    assert b.gauge("vus", {"workload": "w"}) == a.gauge("vus", {"workload": "w"}) == (7.0, 7.0)
    assert b.series_rows() == a.series_rows()
