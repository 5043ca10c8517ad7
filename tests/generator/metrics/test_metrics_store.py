"""The metrics store: exact HDR merges, bucketed recording, queries by tag filter, series,
events.jsonl round trip."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from generator.metrics.events import EventSink
from generator.metrics.store import MetricsStore
from generator.metrics.trend import HIGHEST_US, LOWEST_US, TrendAcc, new_histogram


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


def test_iterations_started_and_in_flight_per_second() -> None:
    store = MetricsStore(clock=lambda: 0.0)
    store.add_trend("iteration_duration", 1750.0, {"workload": "w"}, at=2.25)  # 0.5 s to 2.25 s
    store.add_trend("iteration_duration", 300.0, {"workload": "w"}, at=0.2)  # began at -0.1 s
    store.add_trend("turn_latency", 5000.0, at=2.5)  # other trends are not iterations
    rows = store.series_rows()
    assert [r["iterations"] for r in rows] == [
        {"started": 2, "in_flight": pytest.approx(0.5 + 0.2)},
        {"started": 0, "in_flight": pytest.approx(1.0)},
        {"started": 0, "in_flight": pytest.approx(0.25)},
    ]


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
        store.add_trend("iteration_duration", rng.uniform(1, 3000), {"workload": "w"})
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


def test_bucketed_recording_gives_the_percentiles_of_value_by_value_recording() -> None:
    # TrendAcc counts HDR buckets and folds them into the histogram in bulk; the result must be
    # the histogram that recording each value would have built, at every percentile.
    rng = random.Random(11)
    samples = [rng.lognormvariate(3, 2.5) for _ in range(20_000)]  # ~µs to minutes
    samples += [0.0, 1e-4, 5_000_000.0]  # below and above the histogram's range: clamped
    acc, reference = TrendAcc(), new_histogram()
    for value in samples:
        acc.add(value)
        reference.record_value(min(max(round(value * 1000.0), LOWEST_US), HIGHEST_US))
    for p in (0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99):
        assert acc.hist.get_value_at_percentile(p) == reference.get_value_at_percentile(p), p
    assert acc.count == len(samples)
    assert (acc.min_ms, acc.max_ms) == (min(samples), max(samples))


def test_events_lines_are_json_for_any_value_and_tag(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = EventSink(path, clock=lambda: 0.0)
    store = MetricsStore(clock=lambda: 0.0, sink=sink)
    odd_tags = {"path": '/a"b\\c', "name": "caf\u00e9 \u260e", "newline": "x\ny"}
    store.add_gauge("g", float("nan"), odd_tags)  # a gauge may be NaN or infinite; JSON has
    store.add_gauge("g", float("inf"), odd_tags)  # no such numbers, json.dumps spells them
    store.add_trend("t", 1e-7, odd_tags)
    store.add_counter("c", 3, odd_tags)
    store.add_gauge("g", -2.5)
    store.finish()
    sink.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # every line parses
    assert [e["k"] for e in events] == ["start", "g", "g", "t", "c", "g", "end"]
    assert events[1]["g"] == odd_tags
    assert math.isnan(events[1]["v"])
    assert [e["v"] for e in events[2:6]] == [math.inf, 1e-7, 3, -2.5]
    back = MetricsStore.from_events(path)
    assert back.counter("c", {"path": '/a"b\\c'}) == 3


def test_tags_equal_as_dict_keys_but_not_as_strings_stay_apart() -> None:
    store = MetricsStore(clock=lambda: 0.0)
    for value in (True, 1, 1.0, "1", "True"):
        store.add_counter("c", 1, {"x": value})  # type: ignore[dict-item]
    assert store.counter_by("c", "x") == {"True": 2, "1": 2, "1.0": 1}


def test_a_gzip_events_file_cut_off_by_a_kill_reads_up_to_its_last_flush(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    now = [0.0]
    sink = EventSink(path, clock=lambda: now[0])
    store = MetricsStore(clock=lambda: now[0], sink=sink)
    for i in range(300):
        now[0] = i * 0.01
        store.add_counter("calls_total", 1)
    sink.flush()  # what the once-a-second flush leaves on disk; the process dies before close
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert MetricsStore.from_events(path).counter("calls_total") == 300
    sink.close()
