"""The live dashboard of a `--workers N` run (generator/report/dashboard_thread.py): the parent
serves it from a thread of its own and reads the combined store only under the lock the
handover changes it under; its rows stay the combined store's while a worker hands its seconds
over late; the merged slices' VUs add up in its charts (and report.html's); a taken port leaves
no thread behind; and end to end, in headless Chromium, `callbench http
--workers 2 --dashboard` (the parent watching a target through its pid) draws the combined
run's charts, which gain points while the workers run, and stops serving when it ends."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import re
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from generator.errors import InvalidInput
from generator.metrics.combine import Combiner, read_source
from generator.metrics.series import Series
from generator.metrics.snapshots import SnapshotWriter
from generator.metrics.store import MetricsStore
from generator.report.dashboard import RowCache
from generator.report.dashboard_settings import DashboardSettings
from generator.report.dashboard_thread import COMBINED_OPEN_S, served
from generator.report.html_data import series_charts
from tests.generator.report.live_browser import POINTS_JS, drawn, live_page, until
from tests.support.chromium_driver import chromium_path
from tests.support.clock import FakeClock
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[3]
needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="chromium not installed")


class HeldGuard:
    """A guard that knows whether it is held (the handover's lock, observable)."""

    def __init__(self) -> None:
        self.held = False
        self.entered = 0

    def __enter__(self) -> None:
        assert not self.held
        self.held, self.entered = True, self.entered + 1

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.held = False


class GuardedStore(MetricsStore):
    """A store that fails any read of its per-second series made without the guard held."""

    guard: HeldGuard

    @property
    def series(self) -> Series:
        if not self.guard.held:
            raise AssertionError("the store's series read without its lock")
        return super().series


def test_a_merged_runs_vus_add_up_over_its_slices() -> None:
    store = MetricsStore(clock=FakeClock())
    for t in range(3):
        for i in range(2):  # as the handover tags each worker's gauges
            store.add_gauge("vus", float(t + i), {"workload": "w", "slice": str(i)}, at=t + 0.5)
    store.tick()
    vus = series_charts(store.series_rows(), 3.0)[0].lines[0]
    assert vus.label == "VUs w"
    assert vus.ys == tuple(float(2 * t + 1) for t in range(3))


def write_source(run_dir: Path, seed: int, seconds: int) -> None:
    """A worker's snapshots: a few requests in every second, one fold a second."""
    rng = random.Random(seed)
    clock = FakeClock()
    writer = SnapshotWriter(run_dir, wall_start=1000.0)
    store = MetricsStore(clock=clock, snapshots=writer)
    tags = {"workload": "w"}
    for second in range(seconds):
        for _ in range(rng.randrange(1, 6)):
            at = second + rng.random()
            store.add_counter("http_reqs", 1, tags, at=at)
            store.add_trend("http_req_duration", rng.uniform(1.0, 80.0), tags, at=at)
        clock.advance(1.0)
        store.tick()
    store.finish(at=float(seconds))
    writer.close()


async def test_the_combined_rows_stay_those_of_the_store_with_a_worker_behind(
    tmp_path: Path,
) -> None:
    """A worker that hands its seconds over up to 4 s after the other's still lands in rows
    built again (COMBINED_OPEN_S), so the page's rows are the combined store's at every step."""
    for index in range(2):
        write_source(tmp_path / str(index), seed=index, seconds=12)
    ahead, behind = (list(read_source(tmp_path / str(i))) for i in range(2))
    combiner = Combiner()
    sources = [combiner.source(0, {"slice": str(i)}) for i in range(2)]
    cache = RowCache(COMBINED_OPEN_S)
    lag = 4
    for step in range(len(ahead) + lag):
        if step < len(ahead):
            combiner.add(sources[0], *ahead[step])
        if 0 <= step - lag < len(behind):
            combiner.add(sources[1], *behind[step - lag])
        assert await cache.rows(combiner.store) == combiner.store.series_rows(), step


def test_the_parents_page_reads_the_store_under_its_lock_only() -> None:
    guard = HeldGuard()
    store = GuardedStore(clock=FakeClock())
    store.guard = guard
    with guard:
        for i in range(2):
            store.add_gauge("vus", 2.0, {"workload": "w", "slice": str(i)}, at=0.5)
            store.add_counter("iterations", 3, {"workload": "w"}, at=1.5)
        store.tick()
    with served(DashboardSettings(0, io.StringIO()), "workers") as page:
        assert page is not None
        assert page.url is not None
        page.follow(lambda: store, None, guard)
        with urllib.request.urlopen(page.url + "data.json", timeout=10) as reply:
            data = json.loads(reply.read())
        url = page.url
    assert data["phase"] == "load"
    shown = dict(data["figures"])
    assert shown["VUs"] == "4"  # both slices' VUs
    assert shown["iterations"] == "6"
    assert guard.entered >= 2  # the figures, then the rows
    with pytest.raises(urllib.error.URLError, match="refused"):  # nothing serving once left
        urllib.request.urlopen(url + "data.json", timeout=5)
    assert not any(t.name == "callbench-dashboard" for t in threading.enumerate())


def test_a_taken_port_is_a_clear_error_and_leaves_no_thread() -> None:
    with served(DashboardSettings(0, io.StringIO()), "first") as first:
        assert first is not None
        assert first.url is not None
        port = int(first.url.rstrip("/").rsplit(":", 1)[1])
        with (
            pytest.raises(InvalidInput, match=rf"127\.0\.0\.1:{port}.*another port"),
            served(DashboardSettings(port), "second"),
        ):
            pass
    assert not any(t.name == "callbench-dashboard" for t in threading.enumerate())
    with served(None, "none") as nothing:
        assert nothing is None


# -- in Chromium, during a --workers 2 run -------------------------------------------------
WATCHED = (
    "Active calls and VUs",
    "Arrival rate (iterations started per second)",
    "HTTP request duration per second (ms)",
    "Backend RSS (MiB) with baseline and 20 % band",
    "Backend CPU (%)",
)


@needs_chromium
@pytest.mark.timeout(180)
async def test_the_live_page_of_a_two_worker_run_grows_while_it_goes(tmp_path: Path) -> None:
    async def ok(_: web.Request) -> web.Response:
        await asyncio.sleep(0.02)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    target = web.AppRunner(app)
    await target.setup()
    await web.TCPSite(target, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{target.addresses[0][1]}"
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text("- name: root\n  path: /\n  expect_status: 200\n", encoding="utf-8")
    run = tmp_path / "run"
    err = tmp_path / "stderr.txt"
    with err.open("wb") as sink:  # a file, not a pipe nobody reads while the test waits
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.cli", "http", "--url", base,
            "--endpoints", str(endpoints), "--stages", "1s:4,119s:4", "--no-health-check",
            "--pid", str(os.getpid()), "--cooldown", "0s",  # the parent watches this process
            "--workers", "2", "--dashboard", "--out", str(run),
            cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    try:
        await wait_until(
            lambda: b"live dashboard at" in err.read_bytes() or proc.returncode is not None,
            30,
            interval_s=0.1,
            what="the dashboard's URL",
        )
        text = err.read_text()
        assert proc.returncode is None, text
        page_url = re.findall(r"http://127\.0\.0\.1:\d+/", text)[0]
        async with live_page(page_url, tmp_path / "chromium") as page:

            async def charts() -> dict[str, Any]:
                found: dict[str, Any] = json.loads(await page.evaluate(POINTS_JS))
                return found

            first = await until(
                charts,
                lambda c: all(drawn(c, t) > 0 for t in WATCHED),
                60,
                "every watched chart drawing a point",
            )
            second = await until(
                charts,
                lambda c: all(drawn(c, t) > drawn(first, t) for t in WATCHED),
                30,
                "every watched chart gaining points",
            )
            assert proc.returncode is None  # all of that while the workers ran
            for title in WATCHED:
                assert second[title]["points"] >= second[title]["drawn"] > 0
            async with aiohttp.ClientSession() as http, http.get(page_url + "data.json") as reply:
                data = await reply.json()
            shown = dict(data["figures"])
            assert data["phase"] == "load"
            assert shown["VUs"] == "4"  # both workers' VUs, summed
            assert (run / "workers" / "1").is_dir()  # the load really is in two processes
            resources = await page.evaluate(
                "JSON.stringify(performance.getEntriesByType('resource').map(e => e.name))"
            )
            assert all(name.startswith(page_url) for name in json.loads(resources))
            assert page.errors() == []
            proc.send_signal(signal.SIGINT)  # as Ctrl-C: the workers stop, the run is merged
            code = await asyncio.wait_for(proc.wait(), 60)
            state = await until(
                lambda: page.evaluate("document.getElementById('state').textContent"),
                lambda text: "run has ended" in str(text),
                15,
                "the page saying the run has ended",
            )
            assert "report.html" in state
            assert all("ERR_CONNECTION_REFUSED" in e for e in page.errors())
        assert code == 130, err.read_text()
        summary = json.loads((run / "summary.json").read_text())
        assert summary["counters"]["http_reqs"] > 0
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientConnectionError):
                async with http.get(page_url + "data.json"):
                    pass  # nothing left serving
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await target.cleanup()
