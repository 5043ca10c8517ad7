"""The metrics store: exact HDR merges, queries by tag filter, series, events.jsonl round trip."""

from __future__ import annotations

import random
from pathlib import Path

from generator.metrics.events import EventSink
from generator.metrics.store import MetricsStore


def test_merged_percentiles_equal_one_histogram_of_all_samples() -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(6, 1) for _ in range(5000)]
    whole, left, right = (MetricsStore(clock=lambda: 0.0) for _ in range(3))
    for i, value in enumerate(samples):
        whole.add_trend("turn_latency", value)
        (left if i % 3 else right).add_trend("turn_latency", value, {"part": str(i % 2)})
    left.merge(right)
    merged, single = left.trend("turn_latency"), whole.trend("turn_latency")
    for p in (50, 90, 95, 99, 99.9):
        assert merged.p(p) == single.p(p)
    assert (merged.count, merged.min, merged.max) == (single.count, single.min, single.max)
    assert abs(merged.avg - single.avg) < 1e-9
    exact = sorted(samples)[int(0.95 * len(samples)) - 1]
    assert abs(single.p(95) - exact) / exact < 0.002  # 3 significant digits


def test_queries_filter_by_tags_and_series_by_second() -> None:
    now = [0.0]
    store = MetricsStore(clock=lambda: now[0])
    store.add_trend("turn_latency", 100.0, {"protocol": "native"}, at=0.5)
    store.add_trend("turn_latency", 300.0, {"protocol": "twilio"}, at=1.5)
    store.add_counter("errors_total", 1, {"kind": "refused"}, at=1.6)
    store.add_counter("errors_total", 0, {"kind": "closed"}, at=1.6)
    store.add_gauge("vus", 3, {"workload": "calls"}, at=1.7)
    assert store.trend("turn_latency", {"protocol": "twilio"}).count == 1
    assert store.trend("turn_latency").max == 300.0
    assert store.counter_by("errors_total", "kind") == {"refused": 1, "closed": 0}
    rows = store.series_rows()
    assert [r["t"] for r in rows] == [0, 1]
    assert rows[1]["trends"]["turn_latency"]["p95"] == 300.0
    assert rows[1]["counters"]["errors_total{kind=refused}"] == 1
    assert rows[1]["gauges"]["vus{workload=calls}"] == 3


def test_events_jsonl_round_trip(tmp_path: Path) -> None:
    now = [100.0]
    path = tmp_path / "events.jsonl"
    sink = EventSink(path, clock=lambda: now[0])
    store = MetricsStore(clock=lambda: now[0], sink=sink)
    rng = random.Random(3)
    for i in range(500):
        now[0] = 100.0 + i * 0.01
        store.add_trend("turn_latency", rng.uniform(1, 3000), {"protocol": "native"})
        store.add_rate("call_success", i % 7 != 0)
        store.add_counter("calls_total", 1, {"outcome": "succeeded" if i % 7 else "failed"})
    store.add_gauge("vus", 4)
    store.finish()
    sink.close()
    back = MetricsStore.from_events(path)
    assert back.trend("turn_latency").p(99) == store.trend("turn_latency").p(99)
    assert back.trend("turn_latency").avg == store.trend("turn_latency").avg
    assert back.rate("call_success") == store.rate("call_success")
    assert back.counter_by("calls_total", "outcome") == store.counter_by("calls_total", "outcome")
    assert back.gauge("vus") == (4.0, 4.0)
    assert back.elapsed() == store.elapsed()
    assert back.series_rows() == store.series_rows()


def test_interrupted_file_with_torn_line_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"k":"start","format":1}\n{"k":"t","t":0.5,"n":"x","v":12.5,"g":{}}\n{"k":"t","t":0.7,"n"'
    )
    back = MetricsStore.from_events(path)
    assert back.trend("x").count == 1
    assert back.ended_at is None
