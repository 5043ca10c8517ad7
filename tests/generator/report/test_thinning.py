"""Long runs charted in a bounded number of points (generator/report/thinning.py): the live
page's RowCache keeps the rows of seconds its store has let go, thinned, and report.html thins
a long run's rows the same way; every figure stays honest (counts summed, percentiles the worst
second's, gauges the peak), the first second is still there and the newest seconds exact."""

from __future__ import annotations

import asyncio
import html
import io
import itertools
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from generator.metrics.snapshots import SnapshotWriter
from generator.metrics.store import MetricsStore
from generator.metrics.window import SERIES_WINDOW_S
from generator.monitor.history import thin_samples
from generator.report import dashboard
from generator.report.dashboard import MAX_POINTS, Dashboard, RowCache, chart_json
from generator.report.dashboard_settings import DashboardSettings
from generator.report.html_charts import chart_html
from generator.report.html_data import REPORT_MAX_POINTS, series_charts, target_charts
from generator.report.thinning import RowLadder, span_of, thin_rows
from tests.support.clock import FakeClock

WALL = 1_732_260_000.0


def _row(t: int, rng: random.Random) -> dict[str, Any]:
    """A per-second row as series.row_of makes it, with random figures."""
    p50 = rng.uniform(5.0, 50.0)
    return {
        "t": t,
        "trends": {
            "http_req_duration": {
                "count": rng.randrange(1, 100),
                "p50": p50,
                "p95": p50 * 2 + rng.uniform(0.0, 10.0),
                "p99": p50 * 3 + rng.uniform(0.0, 500.0 if rng.random() < 0.01 else 10.0),
            }
        },
        "counters": {"calls_total{outcome=succeeded}": rng.randrange(0, 9)},
        "rates": {"checks": rng.random()},
        "gauges": {"vus{workload=w}": float(rng.randrange(1, 40))},
        "iterations": {"started": rng.randrange(0, 9), "in_flight": rng.uniform(0.0, 30.0)},
    }


def _covered(rows: list[dict[str, Any]], row: dict[str, Any]) -> list[dict[str, Any]]:
    return rows[int(row["t"]) : int(row["t"]) + span_of(row)]


def test_a_ladder_stays_bounded_and_honest_for_every_column() -> None:
    rng = random.Random(5)
    seconds = [_row(t, rng) for t in range(10_000)]
    ladder = RowLadder(300)
    for row in seconds:
        ladder.add(row)
        assert len(ladder.rows) <= 300
    rows = ladder.rows
    assert len(rows) > 150  # doubling halves it at most
    assert rows[0]["t"] == 0  # the first second is still represented
    ends = [r["t"] + span_of(r) for r in rows]
    assert [r["t"] for r in rows[1:]] == ends[:-1]  # contiguous
    assert ends[-1] == len(seconds)
    assert {span_of(r) for r in rows[:-1]} == {ladder.width}  # equal widths but the newest
    for row in rows:
        covered = _covered(seconds, row)
        trend = row["trends"]["http_req_duration"]
        for stat in ("p50", "p95", "p99"):  # the worst of the seconds it covers
            assert trend[stat] == max(s["trends"]["http_req_duration"][stat] for s in covered)
        assert trend["count"] == sum(s["trends"]["http_req_duration"]["count"] for s in covered)
        assert row["counters"]["calls_total{outcome=succeeded}"] == sum(
            s["counters"]["calls_total{outcome=succeeded}"] for s in covered
        )
        assert row["iterations"]["started"] == sum(s["iterations"]["started"] for s in covered)
        vus = max(s["gauges"]["vus{workload=w}"] for s in covered)
        assert row["gauges"]["vus{workload=w}"] == vus
        mean = sum(s["rates"]["checks"] for s in covered) / len(covered)
        assert row["rates"]["checks"] == pytest.approx(mean)
    assert thin_rows(seconds[:50], 300) == seconds[:50]  # a short run: untouched


def _second(stores: list[MetricsStore], clock: FakeClock, rng: random.Random) -> None:
    """One simulated second of load into each of ``stores``, then the runner's tick."""
    start = clock.now
    for _ in range(rng.randrange(1, 5)):
        clock.now = start + rng.uniform(0.0, 0.9)
        value, ok = rng.lognormvariate(2.0, 1.0), rng.random() < 0.9
        for store in stores:
            store.add_trend("http_req_duration", value, {"status": "200"})
            store.add_counter("calls_total", 1, {"outcome": "succeeded" if ok else "failed"})
            store.add_counter("iterations", 1, {"workload": "w"})
    clock.now = start + 0.95
    vus = rng.randrange(1, 50)
    for store in stores:
        store.add_gauge("vus", vus, {"workload": "w"})
        store.tick()
    clock.now = start + 1.0


@pytest.mark.timeout(240)
async def test_the_live_rows_cover_the_whole_run_in_bounded_points(tmp_path: Path) -> None:
    rng = random.Random(23)
    clock = FakeClock(10.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    windowed = MetricsStore(clock=clock, snapshots=writer)  # as a run makes it
    whole = MetricsStore(clock=clock)  # keeps every second: the truth to compare with
    cache = RowCache()
    seconds = 4000
    for second in range(seconds):
        _second([windowed, whole], clock, rng)
        if second % 7 == 0 or second == seconds - 1:  # the page (or its keeper) builds
            rows = await cache.rows(windowed)
            assert len(rows) <= MAX_POINTS
            assert cache.held() <= RowCache.TAIL_S + RowCache.LADDER_ROWS
    assert len(windowed.series.seconds) == SERIES_WINDOW_S
    truth = whole.series_rows()
    assert len(truth) == seconds
    assert rows[0]["t"] == 0  # the first second, let go of by the store an hour ago
    assert [r["t"] for r in rows[1:]] == [r["t"] + span_of(r) for r in rows[:-1]]
    assert rows[-1]["t"] + span_of(rows[-1]) == seconds
    tail = [r for r in rows if "span" not in r]
    assert len(tail) >= RowCache.TAIL_S - 1
    assert tail == truth[-len(tail) :]  # the newest seconds: exact, second by second
    for row in rows:  # the older ones: the worst latency, every call counted
        covered = _covered(truth, row)
        assert row["trends"]["http_req_duration"]["p99"] == max(
            s["trends"]["http_req_duration"]["p99"] for s in covered
        )
        assert row["counters"] == {
            key: sum(s["counters"].get(key, 0) for s in covered) for key in row["counters"]
        }
    charts = series_charts(rows, windowed.elapsed())
    for chart in charts:
        for line in chart.lines:
            assert len(line.xs) <= MAX_POINTS
    outcomes = next(c for c in charts if c.title == "Call outcomes per second")
    drawn = sum(y * w for line in outcomes.lines for y, w in zip(line.ys, line.widths, strict=True))
    assert drawn == pytest.approx(whole.counter("calls_total"))
    body = json.dumps([chart_json(c) for c in charts], allow_nan=False)
    assert len(body) < 400_000  # what one poll sends, however long the run
    windowed.finish()
    writer.close()


@pytest.mark.timeout(120)
def test_a_long_runs_report_charts_are_thinned_and_still_draw() -> None:
    rng = random.Random(8)
    hours = 8 * 3600
    rows = [_row(t, rng) for t in range(hours)]
    started = time.process_time()
    thinned = thin_rows(rows, REPORT_MAX_POINTS)
    charts = series_charts(thinned, float(hours))
    cost = time.process_time() - started
    for chart in charts:
        for line in chart.lines:
            assert len(line.xs) <= REPORT_MAX_POINTS
    arrivals = next(c for c in charts if c.title.startswith("Arrival rate")).lines[0]
    spans = [span_of(r) for r in thinned]
    assert sum(y * s for y, s in zip(arrivals.ys, spans, strict=True)) == pytest.approx(
        sum(r["iterations"]["started"] for r in rows)
    )
    latency = next(c for c in charts if "duration" in c.title)
    p99 = next(line for line in latency.lines if line.label == "p99")
    assert max(p99.ys) == max(r["trends"]["http_req_duration"]["p99"] for r in rows)
    assert "worst second" in latency.note  # the page and report.html say how to read it
    for index, chart in enumerate(charts):
        svg = chart_html(chart, (0.0, float(hours)), f"c{index}")
        assert "<svg" in svg or "no-data" in svg
        assert not chart.has_data() or html.escape(chart.note) in svg
    assert all(not c.note for c in series_charts(rows[:600], 600.0))  # a short run: as it is
    assert cost < 20.0  # CPU seconds, far from it on the shared box (a guard, not a benchmark)


@pytest.mark.timeout(60)
async def test_a_page_opened_late_still_charts_the_runs_first_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody asks for the page while the store lets its first minutes go: the dashboard's
    keeper has built their rows all the same."""
    monkeypatch.setattr(dashboard, "KEEP_S", 0.001)
    rng = random.Random(4)
    clock = FakeClock(10.0)
    writer = SnapshotWriter(tmp_path, wall_start=WALL)
    store = MetricsStore(clock=clock, snapshots=writer)
    board = Dashboard(DashboardSettings(0, io.StringIO()), "late")
    await board.start()
    try:
        board.watch(store)
        for second in range(5 * SERIES_WINDOW_S):
            _second([store], clock, rng)
            if second % 20 == 19:  # well inside the store's minute: the keeper has had turns
                deadline = time.monotonic() + 10.0
                while board.cache.newest != second:
                    assert time.monotonic() < deadline, "the keeper built nothing"
                    await asyncio.sleep(0.001)
        assert min(store.series.seconds) > 0  # the store has let its first seconds go
        data = json.loads(await board.data())
    finally:
        await board.stop()
        writer.close()
    outcomes = next(c for c in data["charts"] if c["title"] == "Call outcomes per second")
    assert min(x for line in outcomes["lines"] for x in line["xs"]) == 0.5  # the first second
    drawn = sum(
        y * w
        for line in outcomes["lines"]
        for y, w in zip(line["ys"], line.get("ws", [1.0] * len(line["ys"])), strict=True)
    )
    assert drawn == pytest.approx(store.counter("calls_total"), abs=0.01)  # every call


def test_a_long_runs_monitor_charts_are_thinned_keeping_peaks_and_rates() -> None:
    rng = random.Random(9)
    samples: list[dict[str, Any]] = [
        {"t": -3.0 + i, "phase": "baseline", "rss_bytes": 50 * 2**20} for i in range(3)
    ]
    limited = 0
    for i in range(8 * 3600):
        limited += rng.randrange(0, 3)
        resident = 60 * 2**20 + rng.randrange(0, 2**20) + (30 * 2**20 if i == 20_000 else 0)
        samples.append(
            {
                "t": float(i),
                "phase": "load",
                "rss_bytes": resident,
                "upstream_rate_limited_total": limited,
            }
        )
    shown = thin_samples(samples, REPORT_MAX_POINTS)
    assert len(shown) <= REPORT_MAX_POINTS + 3
    assert shown[:3] == samples[:3]  # the baseline as taken
    charts = target_charts(shown, 50.0 * 2**20)
    rss = charts[0].lines[0]
    assert len(rss.xs) <= REPORT_MAX_POINTS + 3
    assert max(rss.ys) == max(s["rss_bytes"] for s in samples) / 2**20  # the spike stays
    rate = next(c for c in charts if c.title.startswith("Upstream 429s")).lines[0]
    counted = [(s["t"], s["upstream_rate_limited_total"]) for s in shown if s["phase"] == "load"]
    widths = [b[0] - a[0] for a, b in itertools.pairwise(counted)]
    # the rate drawn between two points is the mean over them: it adds up to the increase
    drawn = sum(y * w for y, w in zip(rate.ys, widths, strict=True))
    assert drawn == pytest.approx(limited - counted[0][1])
    assert "highest" in charts[0].note
