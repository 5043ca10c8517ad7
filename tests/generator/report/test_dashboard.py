"""The live dashboard (generator/report/dashboard.py): its data are report.html's charts, thinned;
its server answers on loopback only while it runs and refuses a taken port clearly; its page
loads nothing from the network; and in headless Chromium, while a real run goes against a
loopback target (watched through the test process's own pid), its charts gain points, then say
the run has ended once it has, with nothing left serving."""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from generator.errors import InvalidInput
from generator.metrics.store import ITERATION_TREND, MetricsStore
from generator.monitor.config import MonitorConfig
from generator.options import RunOptions
from generator.report.dashboard import (
    Dashboard,
    DashboardSettings,
    RowCache,
    chart_json,
    live_charts,
    payload,
    thin,
)
from generator.report.dashboard_page import PAGE
from generator.report.html_data import Chart, Line, generator_charts, load_run, monitor_charts
from generator.report.summary_model import read_summary
from generator.runner import Runner
from generator.scenario import scenario_from_dict
from tests.generator.ping_workload import PingWorkload, start_server
from tests.generator.report.html_report_support import EXPECTED_CHARTS, run_ping, write_monitor
from tests.generator.report.live_browser import POINTS_JS, drawn, live_page, until
from tests.support.chromium_driver import chromium_path
from tests.support.clock import FakeClock

needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="chromium not installed")


def test_the_data_are_the_reports_charts(tmp_path: Path) -> None:
    """For a finished run the page would draw exactly what report.html draws."""
    run = tmp_path / "run"
    run_ping(run, seconds=2, fail_every=3, seed=7)
    write_monitor(run / "monitor.jsonl", seconds=2, leak=False)
    summary = read_summary(run / "summary.json")
    report = load_run(run, summary)  # what report.html reads back from the directory
    live = live_charts(report.rows, summary.duration_s, report.monitor)
    assert live == generator_charts(report) + monitor_charts(report)
    assert [c.title for c in live] == list(EXPECTED_CHARTS)
    arrivals = live[1].lines[0]
    assert arrivals.label == "iterations started/s"
    assert sum(arrivals.ys) == summary.iterations


def test_the_data_hold_the_runs_figures_now() -> None:
    store = MetricsStore(clock=FakeClock())
    for i in range(12):
        store.add_counter(
            "calls_total", 1, {"outcome": "failed" if i % 4 else "succeeded"}, at=i / 4
        )
        store.add_counter("iterations", 1, {"workload": "w"}, at=i / 4)
    store.add_gauge("vus", 2.0, {"workload": "w"}, at=2.5)
    store.tick()
    data = payload("demo", store, [])
    assert data["phase"] == "load"
    shown = dict(data["figures"])
    assert "calls ok 3 failed 9" in shown
    assert shown["VUs"] == "2"
    assert shown["iterations"] == "12"
    outcomes = next(c for c in data["charts"] if c["title"] == "Call outcomes per second")
    assert outcomes["kind"] == "stacked"
    assert sum(sum(line["ys"]) for line in outcomes["lines"]) == 12
    assert data["charts"][-1]["empty_note"] == "no target monitor in this run"
    json.dumps(data, allow_nan=False)


async def test_the_row_cache_equals_the_stores_rows_as_a_run_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(RowCache, "CHUNK", 4)  # a first build in several goes, too
    clock = FakeClock()
    store = MetricsStore(clock=clock)
    cache = RowCache()
    for second in (0, 1, 2, 3, 7, 8, 9, 10, 15):  # quiet seconds between some
        store.add_counter("iterations", 1, {"workload": "w"}, at=second + 0.2)
        store.add_trend("turn_latency", 100.0 + second, {"workload": "w"}, at=second + 0.5)
        if second >= 2:  # a late observation in a second already built
            store.add_counter("errors_total", 1, {"kind": "late"}, at=second - 1.5)
        if second >= 8:  # a call of several seconds, counted where it ran once it ends
            store.add_trend(ITERATION_TREND, 6000.0, {"workload": "w"}, at=second + 0.9)
        assert await cache.rows(store) == store.series_rows(), second
    assert [r["t"] for r in await cache.rows(store)] == list(range(16))


def test_long_lines_are_thinned_by_averaging() -> None:
    xs = tuple(float(i) for i in range(1500))
    line = thin(Line("l", xs, tuple(2.0 * x for x in xs)), max_points=600)
    assert len(line.xs) <= 600
    assert list(line.xs) == sorted(line.xs)
    assert math.isclose(sum(line.ys) / len(line.ys), sum(2.0 * x for x in xs) / len(xs))
    short = Line("s", (1.0, 2.0), (3.0, 4.0))
    assert thin(short) is short


def test_figures_that_are_not_finite_are_gaps() -> None:
    chart = Chart("c", "ms", (Line("l", (0.5, 1.5), (float("nan"), 2.0)),))
    data = chart_json(chart)
    assert data["lines"][0]["ys"] == [None, 2.0]
    json.dumps(data, allow_nan=False)  # valid JSON for the browser


def test_the_page_loads_nothing_from_the_network() -> None:
    assert re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", PAGE, re.IGNORECASE) is None
    assert "<link" not in PAGE
    assert "@import" not in PAGE
    assert "<script src" not in PAGE


async def test_the_server_serves_while_it_runs_and_then_stops() -> None:
    announce = io.StringIO()
    dashboard = Dashboard(DashboardSettings(0, announce), "demo")
    url = await dashboard.start()
    assert url.startswith("http://127.0.0.1:")
    assert url in announce.getvalue()
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as page:
            assert page.status == 200
            assert "default-src 'none'" in page.headers["Content-Security-Policy"]
            assert "callbench live" in await page.text()
        async with http.get(url + "data.json") as data:
            first = await data.json()
        assert first["phase"] == "starting"
        store = MetricsStore(clock=FakeClock())
        store.add_gauge("vus", 3.0, {"workload": "w"}, at=0.5)
        store.tick()
        dashboard.watch(store)
        async with http.get(url + "data.json") as data:
            second = await data.json()
        assert second["phase"] == "load"
        assert dict(second["figures"])["VUs"] == "3"
        await dashboard.stop()
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(url + "data.json"):
                pass


async def test_a_taken_port_is_a_clear_error() -> None:
    first = Dashboard(DashboardSettings(0, io.StringIO()), "a")
    url = await first.start()
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    try:
        with pytest.raises(InvalidInput, match=rf"127\.0\.0\.1:{port}.*another port"):
            await Dashboard(DashboardSettings(port, io.StringIO()), "b").start()
    finally:
        await first.stop()
    with pytest.raises(InvalidInput, match="0-65535"):
        DashboardSettings(70000)


# -- in Chromium, during a run -------------------------------------------------------------
WATCHED = (
    "Active calls and VUs",
    "Turn latency per second (ms)",
    "Call outcomes per second",
    "Backend RSS (MiB) with baseline and 20 % band",
    "Backend CPU (%)",
)


@needs_chromium
@pytest.mark.timeout(150)
async def test_the_live_page_grows_while_a_run_goes(tmp_path: Path) -> None:
    server, url = await start_server(delay_s=0.02, fail_every=5)
    announce = io.StringIO()
    scenario = scenario_from_dict(
        {
            "name": "live",
            "seed": 3,
            "workloads": {
                "ping": {
                    "type": "calls",
                    "config": {"url": url},
                    "load": {
                        "executor": "constant-arrival-rate",
                        "rate": 10,
                        "duration": "90s",  # ended by the test once it has seen enough
                        "preAllocatedVUs": 3,
                        "maxVUs": 3,
                    },
                }
            },
        }
    )
    monitor = MonitorConfig(pid=os.getpid(), interval_s=0.5, baseline_samples=1, cooldown_s=0)
    options = RunOptions(
        tmp_path / "run",
        monitor=monitor,
        handle_sigint=False,
        dashboard=DashboardSettings(0, announce),
    )
    runner = Runner(scenario, options, {"ping": PingWorkload(url)})
    run = asyncio.create_task(runner.run())
    try:
        printed = await until(
            lambda: asyncio.sleep(0, announce.getvalue()),
            lambda text: "http://127.0.0.1:" in text or run.done(),
            20,
            "the dashboard's URL",
        )
        if run.done():
            run.result()  # raises what stopped the run before its dashboard started
        page_url = re.findall(r"http://127\.0\.0\.1:\d+/", printed)[0]
        async with live_page(page_url, tmp_path / "chromium") as page:

            async def charts() -> dict[str, Any]:
                found: dict[str, Any] = json.loads(await page.evaluate(POINTS_JS))
                return found

            first = await until(
                charts,
                lambda c: all(drawn(c, t) > 0 for t in WATCHED),
                40,
                "every watched chart drawing a point",
            )
            second = await until(
                charts,
                lambda c: all(drawn(c, t) > drawn(first, t) for t in WATCHED),
                30,
                "every watched chart gaining points",
            )
            assert not run.done()  # all of that while the run went
            for title in WATCHED:
                assert second[title]["points"] >= second[title]["drawn"] > 0
            resources = await page.evaluate(
                "JSON.stringify(performance.getEntriesByType('resource').map(e => e.name))"
            )
            assert all(name.startswith(page_url) for name in json.loads(resources))
            assert page.errors() == []
            runner.stop("completed", hard=False)
            outcome = await asyncio.wait_for(run, 60)
            state = await until(
                lambda: page.evaluate("document.getElementById('state').textContent"),
                lambda text: "run has ended" in str(text),
                15,
                "the page saying the run has ended",
            )
            assert "report.html" in state
            # once the run is over, only its polls fail (the server is gone), nothing else
            assert all("ERR_CONNECTION_REFUSED" in e for e in page.errors())
        assert outcome.summary.status == "completed"
        assert outcome.summary.calls.total > 0
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientConnectionError):
                async with http.get(page_url + "data.json"):
                    pass  # nothing left serving
    finally:
        if not run.done():
            runner.stop("interrupted", hard=True)
            await asyncio.gather(run, return_exceptions=True)
        await server.cleanup()
