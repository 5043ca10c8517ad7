"""A store rebuilt from its snapshots (metrics.jsonl + metrics.hlog) answers every query as the
store that recorded live; the interval log is hdrh's own format; the files stay small."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from generator.metrics.events import EventSink
from generator.metrics.hlog import parse_tag, series_tag
from generator.metrics.snapshots import METRICS_HLOG, METRICS_JSONL, SnapshotWriter
from generator.metrics.store import ITERATION_TREND, MetricsStore
from generator.metrics.trend import new_histogram
from tests.support.clock import FakeClock

WALL = 1_732_260_000.25
PERCENTILES = (0.1, 1, 25, 50, 75, 90, 95, 99, 99.9, 100)
TAG_SETS: list[dict[str, str]] = [
    {},
    {"protocol": "native"},
    {"protocol": "twilio", "path": "/a,b c"},  # a comma and a space: the hlog's separators
    {"protocol": "native", "kind": "x=y;{z}"},
]


def queries(store: MetricsStore) -> dict[str, Any]:
    """Everything the summary, thresholds and reports read from a store."""
    out: dict[str, Any] = {
        "names": store.metric_names(),
        "rows": store.series_rows(),
        "last_at": store.last_at,
        "ended_at": store.ended_at,
    }
    for name, kind in store.metric_names().items():
        sets = store.tag_sets(name)
        out[f"sets {name}"] = sets
        filters: list[dict[str, str] | None] = [None, *sets]
        filters += [{k: v} for tags in sets for k, v in tags.items()]
        tag_names = sorted({k for tags in sets for k in tags})
        for tag_filter in filters:
            at = f"{name} {sorted((tag_filter or {}).items())}"
            if kind == "trend":
                stats = store.trend(name, tag_filter)
                out[at] = (stats, [stats.p(p) for p in PERCENTILES])
            elif kind == "counter":
                out[at] = [store.counter(name, tag_filter)]
                out[at] += [store.counter_by(name, tag, tag_filter) for tag in tag_names]
            elif kind == "rate":
                out[at] = store.rate(name, tag_filter)
            else:
                out[at] = store.gauge(name, tag_filter)
    return out


def record(
    store: MetricsStore, clock: FakeClock, rng: random.Random, seconds: float, ticks: bool = True
) -> None:
    """Seeded random observations up to ``seconds`` into the run, with ticks and queries in
    between (unless not ``ticks``)."""
    next_tick = 1.0
    while clock.now - 100.0 < seconds:
        clock.advance(rng.expovariate(400.0))
        tags = rng.choice(TAG_SETS)
        roll = rng.random()
        if roll < 0.3:
            store.add_trend("turn_latency", rng.lognormvariate(5, 1.5), tags)
        elif roll < 0.4:  # under a millisecond too, where buckets are single microseconds
            store.add_trend("http_req_duration", rng.uniform(0.0005, 3.0), tags)
        elif roll < 0.5:
            store.add_trend(ITERATION_TREND, rng.uniform(1, 2500), {"workload": "w"})
        elif roll < 0.65:
            store.add_counter("errors_total", rng.choice((0, 1, 3)), tags)
        elif roll < 0.8:
            store.add_rate("call_success", rng.random() < 0.9, tags)
        elif roll < 0.85:
            store.add_gauge("vus", rng.uniform(-50, 50), tags)  # negative values too
        elif roll < 0.9:  # late: at an earlier second, already folded
            at = max(clock.now - rng.uniform(0, 2.5), 100.0)
            store.add_trend("turn_latency", rng.uniform(0.001, 9000), tags, at=at)
            store.add_gauge("vus", rng.uniform(-5, 5), tags, at=at)
        elif roll < 0.9005 and ticks:
            store.trend("turn_latency")  # a query folds mid-second (thresholds do)
        if ticks and clock.now - 100.0 >= next_tick:
            store.tick()
            next_tick += rng.choice((0.5, 1.0, 1.0, 1.7))


@pytest.mark.parametrize("seed", range(6))
def test_the_rebuilt_store_answers_every_query_as_the_live_one(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    clock = FakeClock(100.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    raw = tmp_path / ("raw.jsonl.gz" if seed < 3 else "raw.jsonl")  # --raw-events, opt-in
    sink = EventSink(raw, clock=clock)
    live = MetricsStore(clock=clock, snapshots=writer, sink=sink)
    record(live, clock, rng, seconds=rng.uniform(2.5, 6.0))
    interrupted = seed % 2 == 1
    if interrupted:  # killed after a snapshot: no end mark
        live.tick()
    else:
        live.finish()
    writer.close()
    sink.close()

    back = MetricsStore.from_snapshots(tmp_path)
    assert queries(back) == queries(live)
    # the raw events replayed (one fold, where the live store folded every tick) agree too
    assert queries(MetricsStore.from_events(raw)) == queries(live)
    assert (raw.read_bytes()[:2] == b"\x1f\x8b") == raw.name.endswith(".gz")
    assert back.wall_start == WALL
    if interrupted:
        assert back.ended_at is None
        assert back.elapsed() == live.last_at
    else:
        assert back.elapsed() == live.elapsed()
    # the comparison can fail: a store that missed one observation does
    live.add_trend("turn_latency", 1.0)
    assert queries(back) != queries(live)


def test_a_run_killed_mid_write_reads_as_of_its_last_whole_snapshot(tmp_path: Path) -> None:
    rng = random.Random(42)
    clock = FakeClock(100.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    live = MetricsStore(clock=clock, snapshots=writer)
    states, sizes = [], []
    for _ in range(4):
        record(live, clock, rng, seconds=clock.now - 100.0 + 1.0, ticks=False)
        live.tick()
        states.append(queries(live))
        sizes.append((tmp_path / METRICS_JSONL).stat().st_size)
    writer.close()
    whole = (tmp_path / METRICS_JSONL).read_bytes()
    for cut in (sizes[2] + 1, (sizes[2] + sizes[3]) // 2, sizes[3] - 2):
        (tmp_path / METRICS_JSONL).write_bytes(whole[:cut])
        assert queries(MetricsStore.from_snapshots(tmp_path)) == states[2]


def test_hdrh_reads_the_interval_log_and_its_intervals_merge_to_the_totals(
    tmp_path: Path,
) -> None:
    rng = random.Random(5)
    clock = FakeClock(100.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    live = MetricsStore(clock=clock, snapshots=writer)
    record(live, clock, rng, seconds=4.5)
    live.finish()
    writer.close()

    reader = HistogramLogReader(str(tmp_path / METRICS_HLOG), new_histogram())
    merged: dict[str, HdrHistogram] = {}
    starts = set()
    while (interval := reader.get_next_interval_histogram()) is not None:
        tag = interval.get_tag()
        assert tag is not None
        starts.add(round(interval.get_start_time_stamp() / 1000.0 - WALL, 6))
        merged.setdefault(tag, new_histogram()).add(interval)
    reader.close()
    assert starts == {float(s) for s in range(5)}  # absolute times: StartTime + whole seconds
    trends = live.trends
    assert sum(len(by_tags) for by_tags in trends.values()) == len(merged)
    for name, by_tags in trends.items():
        for key, acc in by_tags.items():
            hist = merged[series_tag((name, key))]
            assert parse_tag(series_tag((name, key))) == (name, key)
            assert hist.get_total_count() == acc.count
            assert list(hist.counts) == list(acc.hist.counts)  # bucket by bucket
            for p in PERCENTILES:
                assert hist.get_value_at_percentile(p) == acc.hist.get_value_at_percentile(p)


def test_the_files_grow_with_seconds_and_series_not_with_observations(tmp_path: Path) -> None:
    rng = random.Random(9)
    clock = FakeClock(100.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    store = MetricsStore(clock=clock, snapshots=writer)
    observations, seconds = 1_000_000, 5
    tag_sets = [{"status": str(code)} for code in (200, 404, 500)]
    values = [rng.lognormvariate(3, 0.8) for _ in range(4096)]
    step = seconds / observations
    for i in range(observations):
        clock.now = 100.0 + i * step
        tags = tag_sets[i % 3]
        if i % 2:
            store.add_trend("http_req_duration", values[i % 4096], tags)
        elif i % 4:
            store.add_counter("http_reqs", 1, tags)
        else:
            store.add_rate("http_req_ok", i % 7 != 0, tags)
        if i % 200_000 == 199_999:
            store.tick()
    store.finish()
    writer.close()
    series = 3 * 3
    # an interval line's histogram has at most its 4,096 distinct values (≤ 5 bytes each
    # encoded, base64 and a header on top); a jsonl line is well under 200 bytes
    bound = series * (seconds + 1) * (4096 * 5 * 4 // 3 + 300) + 4096
    size = sum((tmp_path / name).stat().st_size for name in (METRICS_JSONL, METRICS_HLOG))
    assert size < bound
    assert size < observations  # under a byte per observation (events.jsonl: ~100)
    back = MetricsStore.from_snapshots(tmp_path)
    assert back.trend("http_req_duration").count == observations // 2
    assert back.counter("http_reqs") == observations // 4


def test_sources_started_apart_merge_by_wall_clock_second(tmp_path: Path) -> None:
    stores = []
    for i, wall in enumerate((WALL, WALL + 2.0)):  # a shard scheduled two seconds later
        clock = FakeClock(100.0)
        writer = SnapshotWriter(tmp_path / str(i), wall_start=wall)
        store = MetricsStore(clock=clock, snapshots=writer)
        for step in range(30):
            clock.now = 100.0 + step * 0.1  # seconds 0..2 of its own start
            store.add_trend("turn_latency", 10.0 * (i + 1), {"shard": str(i)})
            store.add_counter("calls_total", 1)
        store.finish()
        writer.close()
        stores.append(MetricsStore.from_snapshots(tmp_path / str(i)))
    first, second = stores
    assert first.wall_start is not None
    assert second.wall_start is not None
    first.merge(second, shift_s=round(second.wall_start - first.wall_start))
    rows = first.series_rows()
    assert [row["t"] for row in rows] == [0, 1, 2, 3, 4]
    assert [row["counters"]["calls_total"] for row in rows] == [10, 10, 20, 10, 10]
    assert rows[2]["trends"]["turn_latency"]["count"] == 20
    assert first.trend("turn_latency").count == 60


def test_damaged_lines_are_skipped_and_the_rest_reads(tmp_path: Path) -> None:
    rng = random.Random(8)
    clock = FakeClock(100.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    live = MetricsStore(clock=clock, snapshots=writer)
    record(live, clock, rng, seconds=2.5)
    live.finish()
    writer.close()
    jsonl, hlog = tmp_path / METRICS_JSONL, tmp_path / METRICS_HLOG
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    defs = [line for line in lines if '"k":"def"' in line]
    counter_id = next(d for d in defs if '"m":"c"' in d).split('"id":')[1].split(",")[0]
    trend_id = next(d for d in defs if '"m":"t"' in d).split('"id":')[1].split(",")[0]
    damaged = [
        "not json at all",
        "[1, 2]",
        json.dumps({"k": "tt", "id": int(counter_id), "v": [1, 2.0, 3.0, 4.0]}),  # a counter's
        json.dumps({"k": "c", "s": 1, "id": int(trend_id), "v": 5}),  # a trend as a counter
        json.dumps({"k": "c", "id": int(counter_id), "v": 5}),  # no second
        json.dumps({"k": "gt", "id": 99999, "v": [1, 2, 3]}),  # no such series
        json.dumps({"k": "newer-kind", "s": 60}),  # a second no observation fell in
    ]
    jsonl.write_text("\n".join([*lines[:-1], *damaged, lines[-1]]) + "\n", encoding="utf-8")
    with hlog.open("a", encoding="utf-8") as handle:  # after the last tick's lines
        handle.write("Tag=turn_latency,1732260001.250,1.000,1.000,HISTnotbase64!\n")
        handle.write("Tag=unknown_metric,1732260001.250,1.000\n")
    assert queries(MetricsStore.from_snapshots(tmp_path)) == queries(live)


def test_slices_gauges_tagged_on_reading_add_up_when_merged(tmp_path: Path) -> None:
    merged = MetricsStore(clock=FakeClock(0.0))
    for i, vus in enumerate((3.0, 4.0)):
        clock = FakeClock(100.0)
        writer = SnapshotWriter(tmp_path / str(i), wall_start=WALL)
        store = MetricsStore(clock=clock, snapshots=writer)
        clock.now = 101.5
        store.add_gauge("vus", vus, {"workload": "w"})
        store.finish()
        writer.close()
        merged.merge(MetricsStore.from_snapshots(tmp_path / str(i), gauge_tags={"slice": str(i)}))
    assert merged.gauge("vus", {"workload": "w"}) == (7.0, 7.0)
    assert merged.tag_sets("vus") == [
        {"slice": "0", "workload": "w"},
        {"slice": "1", "workload": "w"},
    ]
    assert [row["gauges"] for row in merged.series_rows() if row["t"] == 1] == [
        {
            "vus{slice=0,workload=w}": 3.0,
            "vus{slice=1,workload=w}": 4.0,
        }
    ]
