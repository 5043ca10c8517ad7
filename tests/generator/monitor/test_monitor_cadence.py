"""A source slow to answer does not stretch the monitor's cadence: each source is asked once at a
time, ticks keep their rate, and the sources that did answer fill every row, in tick order.

The slow source is a real MetricsSource against a local aiohttp /metrics that holds its answers
until the test lets them go; the fast one counts the ticks that asked it."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from generator.monitor.config import MonitorConfig
from generator.monitor.monitor import Monitor
from generator.monitor.sources import MetricsSource
from mocks.backend.metrics import BackendMetrics

INTERVAL_S = 0.1


class Counting:
    """A source that answers at once with how many times it was asked."""

    name = "counting"
    role = "db"

    def __init__(self) -> None:
        self.calls = 0

    async def sample(self) -> dict[str, Any]:
        self.calls += 1
        return {"asked": self.calls}

    async def close(self) -> None:
        return None


class HeldMetrics:
    """/metrics that answers only once `gate` is set, counting requests in flight."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.served = 0
        self.metrics = BackendMetrics()
        self.metrics.active_calls.set(7)

    async def handle(self, _: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
            self.served += 1
            return web.Response(body=self.metrics.render((3, 2, 0)), content_type="text/plain")
        finally:
            self.in_flight -= 1


@pytest.fixture
async def held() -> AsyncIterator[tuple[HeldMetrics, str]]:
    server = HeldMetrics()
    app = web.Application()
    app.router.add_get("/metrics", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield server, f"http://127.0.0.1:{runner.addresses[0][1]}/metrics"
    finally:
        server.gate.set()
        await runner.cleanup()


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the monitor never got there"
        await asyncio.sleep(0.01)


@pytest.mark.timeout(30)
async def test_a_slow_source_sits_out_ticks_while_the_others_keep_the_rate(
    held: tuple[HeldMetrics, str], tmp_path: Path
) -> None:
    server, url = held
    counting = Counting()
    config = MonitorConfig(interval_s=INTERVAL_S, baseline_samples=1, cooldown_s=0.0)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        slow = MetricsSource(session, url)
        monitor = Monitor(config, sources=[slow, counting])
        await monitor.open(tmp_path / "monitor.jsonl")
        try:
            monitor.start_load(time.monotonic())
            await until(lambda: counting.calls >= 5)
            assert monitor.samples == []  # rows wait for the first tick's slow answer
            server.gate.set()
            await until(lambda: sum("active_calls" in s for s in monitor.samples) >= 2)
            await monitor.end_load()
        finally:
            await monitor.close()
    rows = monitor.samples
    assert server.most_in_flight == 1  # never asked again while still answering
    assert len(rows) >= 5
    assert [row["asked"] for row in rows] == list(range(1, len(rows) + 1))  # no tick skipped
    assert all(a["t"] < b["t"] for a, b in itertools.pairwise(rows))
    first, held_back = rows[0], rows[1:4]
    assert first["active_calls"] == 7
    assert "busy" not in first
    for row in held_back:
        assert row["busy"] == [slow.name], row
        assert "active_calls" not in row, row
        assert "down" not in row, row
    resumed = [row for row in rows[1:] if "active_calls" in row]
    assert resumed
    assert all("busy" not in row for row in resumed)
    assert server.served == 1 + len(resumed)
    on_disk = (tmp_path / "monitor.jsonl").read_text().splitlines()
    assert len(on_disk) == len(rows)
