"""Merging N slices' stores gives what one store holding every sample gives."""

from __future__ import annotations

import random
from pathlib import Path

from generator.distributed.tail import EventTail, merge_event_files, replay, replay_store
from generator.metrics.events import EventSink
from generator.metrics.store import MetricsStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


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
    clock = FakeClock()
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
