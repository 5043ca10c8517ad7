"""A `Bundle` (generator/metrics/bundle.py) records what the separate add_* calls record: the same
totals, per-second series, iterations started and in flight, snapshot files and, where raw events
or a listener are on, the same lines and calls; and a stand-in store gets the separate calls."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from generator.metrics.bundle import Bundle, Metric
from generator.metrics.events import EventSink
from generator.metrics.snapshots import SnapshotWriter
from generator.metrics.store import ITERATION_TREND, MetricsStore
from tests.generator.workloads.fake_store import RecordingStore
from tests.support.clock import FakeClock

pytestmark = pytest.mark.timeout(60)

OK_TAGS = {"endpoint": "a", "workload": "w"}
COUNTERS: list[Metric] = [("http_reqs", OK_TAGS), ("iterations", {"workload": "w"})]
RATES: list[Metric] = [("http_req_failed", OK_TAGS)]
TRENDS: list[Metric] = [
    ("http_req_duration", {**OK_TAGS, "status": "200"}),
    (ITERATION_TREND, {"workload": "w"}),
]


def _by_hand(store: MetricsStore, value_ms: float, flag: bool) -> None:
    for name, tags in COUNTERS:
        store.add_counter(name, 1, tags)
    for name, tags in RATES:
        store.add_rate(name, flag, tags)
    for name, tags in TRENDS:
        store.add_trend(name, value_ms, tags)


def _drive(clock: FakeClock, stores: tuple[MetricsStore, MetricsStore]) -> None:
    """The same observations into both stores: by hand into the first, bundled into the second;
    values from 0.05 ms to seconds, so some iterations started one or more seconds back."""
    rng = random.Random(11)
    bundle: Bundle | None = None
    for step in range(3000):
        clock.now = 50.0 + step * 0.0013
        if step % 700 == 0:
            for store in stores:
                store.tick()
        if bundle is None:  # made when first used, as the HTTP workload makes its bundles
            bundle = Bundle(stores[1], COUNTERS, RATES, TRENDS)
        value = rng.choice((0.05, 1.5, 30.0, 1200.0, 2600.0)) * rng.uniform(0.5, 1.5)
        flag = rng.random() < 0.1
        _by_hand(stores[0], value, flag)
        bundle.add(value, flag)
    clock.now += 0.5
    for store in stores:
        store.finish()


def _same(got: MetricsStore, want: MetricsStore) -> None:
    assert got.counters == want.counters
    assert got.rates == want.rates
    for name, tags in TRENDS:
        mine, theirs = got.trend(name, tags), want.trend(name, tags)
        assert (mine.count, mine.min, mine.max, mine.avg) == (
            theirs.count,
            theirs.min,
            theirs.max,
            theirs.avg,
        )
        assert [mine.p(p) for p in (1, 50, 90, 99, 99.9)] == [
            theirs.p(p) for p in (1, 50, 90, 99, 99.9)
        ]
    assert got.series_rows() == want.series_rows()


def test_a_bundle_records_what_the_separate_calls_record(tmp_path: Path) -> None:
    clock = FakeClock(50.0)
    dirs = (tmp_path / "by-hand", tmp_path / "bundled")
    writers = [SnapshotWriter(path, wall_start=1000.0) for path in dirs]
    stores = (
        MetricsStore(clock=clock, snapshots=writers[0]),
        MetricsStore(clock=clock, snapshots=writers[1]),
    )
    _drive(clock, stores)
    for writer in writers:
        writer.close()
    assert stores[1].counter("http_reqs") == 3000
    _same(stores[1], stores[0])
    started = [row["iterations"] for row in stores[1].series_rows()]
    assert started == [row["iterations"] for row in stores[0].series_rows()]
    assert sum(row["started"] for row in started) == 3000
    for name in ("metrics.jsonl", "metrics.hlog"):
        assert (dirs[1] / name).read_text() == (dirs[0] / name).read_text()
    _same(MetricsStore.from_snapshots(dirs[1]), stores[0])


def test_with_raw_events_and_a_listener_a_bundle_makes_the_separate_calls(
    tmp_path: Path,
) -> None:
    clock = FakeClock(50.0)
    stores = (
        MetricsStore(clock=clock, sink=EventSink(tmp_path / "a.jsonl", clock=clock)),
        MetricsStore(clock=clock, sink=EventSink(tmp_path / "b.jsonl", clock=clock)),
    )
    heard: tuple[list[object], list[object]] = ([], [])
    for store, calls in zip(stores, heard, strict=True):
        store.listen(lambda *args, calls=calls: calls.append(args))
    _drive(clock, stores)
    for store in stores:
        assert store._sink is not None
        store._sink.close()
    _same(stores[1], stores[0])
    assert heard[1] == heard[0]
    assert len(heard[1]) == 3000 * 5
    lines = [(tmp_path / name).read_text().splitlines() for name in ("a.jsonl", "b.jsonl")]
    assert len(lines[1]) == 1 + 3000 * 5 + 1  # start, the observations, end
    assert lines[1][1:] == lines[0][1:]  # the start lines differ by their wall-clock instant


def test_a_stand_in_store_gets_each_value_on_its_own() -> None:
    stand_in = RecordingStore()
    Bundle(stand_in, COUNTERS, RATES, TRENDS).add(12.5, True)
    got = [(o.kind, o.name, o.value, o.tags) for o in stand_in.observations]
    assert got == [
        ("counter", "http_reqs", 1, OK_TAGS),
        ("counter", "iterations", 1, {"workload": "w"}),
        ("rate", "http_req_failed", 1.0, OK_TAGS),
        ("trend", "http_req_duration", 12.5, {**OK_TAGS, "status": "200"}),
        ("trend", ITERATION_TREND, 12.5, {"workload": "w"}),
    ]
