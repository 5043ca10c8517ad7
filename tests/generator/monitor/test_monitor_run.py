"""The monitor in a real short run: the ping workload against a local server that also serves
/metrics (the mock backend's registry), /healthz and /debug/memory, plus a real PostgreSQL for
pg_stat_activity; monitor.jsonl must hold samples of every phase and the summary the new
sections. Also: a backend that dies mid-run is recorded as down and diagnosed as a crash."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/generator: ping_workload
from bench.stack.postgres import PostgresInfo, start_postgres, stop_postgres
from generator.monitor.config import MonitorConfig
from generator.monitor.monitor import Monitor
from generator.options import RunOptions
from generator.report.rerender import summary_from_run_dir
from generator.runner import Runner
from generator.scenario import scenario_from_dict
from mocks.backend.metrics import BackendMetrics
from tests.generator.ping_workload import PingWorkload, make_app  # type: ignore[import-not-found,unused-ignore]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresInfo]:
    info = start_postgres(max_connections=20)
    try:
        yield info
    finally:
        stop_postgres(info.base_dir)


async def start_target() -> tuple[web.AppRunner, str]:
    app = make_app(delay_s=0.02)
    metrics = BackendMetrics()

    async def prometheus(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render((3, 2, 0)), content_type="text/plain")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "poolStats": {"total": 3, "idle": 2, "waiting": 0}}
        )

    async def memory(_: web.Request) -> web.Response:
        return web.json_response({"rss_mb": 64.0})

    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/debug/memory", memory)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def scenario(duration: str) -> Any:
    return scenario_from_dict(
        {
            "name": "monitored",
            "workloads": {
                "ping": {
                    "type": "calls",
                    "load": {"executor": "constant-vus", "vus": 2, "duration": duration},
                }
            },
            "thresholds": ["call_success:rate>=0.9"],
        }
    )


def fast(**fields: Any) -> MonitorConfig:
    return MonitorConfig(interval_s=0.25, baseline_samples=2, cooldown_s=1.0, **fields)


@pytest.mark.timeout(60)
async def test_monitored_run_samples_every_phase(tmp_path: Path, postgres: PostgresInfo) -> None:
    server, url = await start_target()
    config = fast(
        metrics_url=f"{url}/metrics",
        health_url=f"{url}/healthz",
        memory_url=f"{url}/debug/memory",
        db_dsn=postgres.admin_dsn,
        pid=os.getpid(),
    )
    try:
        options = RunOptions(tmp_path, monitor=config, handle_sigint=False)
        runner = Runner(scenario("2s"), options, {"ping": PingWorkload(url)})
        outcome = await runner.run()
    finally:
        await server.cleanup()
    rows = [json.loads(line) for line in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    phases = [r["phase"] for r in rows]
    assert phases.count("baseline") == 2
    assert phases.count("load") >= 4
    assert phases.count("cooldown") >= 1
    assert phases == sorted(phases, key=["baseline", "load", "cooldown"].index)
    assert all(r["t"] < 0 for r in rows if r["phase"] == "baseline")
    load = [r for r in rows if r["phase"] == "load"]
    assert load[0]["t"] >= 0
    sample = load[-1]
    # CPU needs a window of at least half a second, so a sample right after another has none.
    assert any("cpu_percent" in r for r in load)
    for key in ("rss_bytes", "pool_size", "pool_waiting", "pg_total",
                "pg_max_connections", "active_calls", "db_errors_total"):  # fmt: skip
        assert key in sample, key
    assert sample["backend_up"] is True
    assert sample["pg_max_connections"] == 20
    assert sample["pool_size"] == 3
    s = outcome.summary.to_json()
    assert s["monitor"]["available"] is True
    assert s["monitor"]["samples"]["load"] == len(load)
    assert s["monitor"]["recovery"]["db_connections"]["key"] == "pg_total"
    assert s["monitor"]["recovery"]["memory"]["recovered"] is True
    assert {r["target"] for r in s["verdict"]} >= {"success_rate", "cpu_peak", "db_connections"}
    db_row = next(r for r in s["verdict"] if r["target"] == "db_connections")
    assert db_row["zone"] == "green"
    assert s["zone"] in ("green", "yellow", "red"), s["verdict"]  # CPU: this busy test process
    assert next(r for r in s["verdict"] if r["target"] == "success_rate")["zone"] == "green"
    assert s["findings"] == []
    again = summary_from_run_dir(tmp_path).to_json()
    assert again["monitor"] == s["monitor"]
    assert again["verdict"] == s["verdict"]
    report = (tmp_path / "report.md").read_text()
    for heading in ("## Target monitor", "## Performance targets", "## Findings"):
        assert heading in report
    assert "<system-out>" in (tmp_path / "junit.xml").read_text()


@pytest.mark.timeout(60)
async def test_a_backend_killed_mid_run_is_a_crash(tmp_path: Path) -> None:
    server, url = await start_target()
    work, work_url = await start_target()  # the workload's own target stays up
    config = fast(metrics_url=f"{url}/metrics", health_url=f"{url}/healthz")
    monitor = Monitor(config)
    try:
        options = RunOptions(tmp_path, monitor=monitor, handle_sigint=False)
        runner = Runner(scenario("3s"), options, {"ping": PingWorkload(work_url)})
        task = asyncio.create_task(runner.run())
        deadline = asyncio.get_running_loop().time() + 20
        while not any(s["phase"] == "load" for s in monitor.samples):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        await server.cleanup()  # the "backend" dies
        outcome = await task
    finally:
        await work.cleanup()
        await server.cleanup()
    rows = [json.loads(line) for line in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    assert any(r["backend_up"] is False for r in rows if r["phase"] == "load")
    assert rows[-1]["backend_up"] is False
    rules = [f["rule"] for f in outcome.summary.to_json()["findings"]]
    assert rules == ["backend_crash"]
