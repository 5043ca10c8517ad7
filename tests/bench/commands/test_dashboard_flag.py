"""`--dashboard [PORT]` (bench/commands/dashboard_flag.py) on every load command: parsed the same
way everywhere, refused clearly when its PORT is not one, carried into the run's options beside
`--workers N` too (the parent serves the combined run), leaving the default number of workers
alone; and end to end, `callbench http --dashboard` serves the live page of its run (HTTP
requests charted, its own figures printed) and leaves nothing serving when it exits, and a
taken port ends it with a clear error, with or without workers."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bench.cli import build_parser
from bench.commands.dashboard_flag import dashboard_from_args
from bench.commands.run_options import run_options
from generator.distributed import shards
from generator.options import RunOptions
from generator.report.dashboard_settings import DashboardSettings
from generator.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[3]
COMMANDS = {
    "calls": ["calls", "--url", "ws://127.0.0.1:9/ws"],
    "http": ["http", "--endpoints", "e.yaml"],
    "webhooks": ["webhooks", "--url", "http://127.0.0.1:9/hook", "--count", "5", "--within", "1s"],
    "connections": ["connections", "--url", "ws://127.0.0.1:9/ws"],
    "run": ["run", "scenario.yaml"],
}


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_load_command_takes_the_flag(command: str) -> None:
    base = COMMANDS[command]
    assert parse(base).dashboard is None
    assert parse([*base, "--dashboard"]).dashboard == 0
    assert parse([*base, "--dashboard", "8123"]).dashboard == 8123
    assert parse([*base, "--dashboard=0"]).dashboard == 0


def test_a_port_that_is_not_one_is_refused_with_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for bad in ("70000", "web", "-1"):
        with pytest.raises(SystemExit) as exited:
            parse(["run", "scenario.yaml", "--dashboard", bad])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "PORT must be a number from 0 to 65535" in err
        assert "--dashboard=0" in err


def test_the_flag_becomes_the_runs_dashboard_option(tmp_path: Path) -> None:
    args = parse(["run", "scenario.yaml", "--dashboard", "8123", "--no-monitor"])
    assert run_options(args, tmp_path / "run", tmp_path).dashboard == DashboardSettings(8123)
    assert (
        run_options(parse(["run", "s.yaml", "--no-monitor"]), tmp_path, tmp_path).dashboard is None
    )
    worker = parse(["run", "s.yaml", "--dashboard", "--no-monitor", "--worker-slice", "0/2"])
    assert run_options(worker, tmp_path, tmp_path).dashboard is None  # its parent's to serve


def test_the_dashboard_goes_with_workers_and_leaves_their_default_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for workers in ("1", "3"):
        found = dashboard_from_args(parse(["run", "s.yaml", "--dashboard", "--workers", workers]))
        assert found == DashboardSettings(0)
    counts: list[int] = []

    def fake_workers(entry: object, scenario: object, options: object, count: int) -> object:
        counts.append(count)
        return SimpleNamespace(exit_code=0)

    monkeypatch.setattr(shards, "run_workers", fake_workers)
    monkeypatch.setattr(shards, "print_outcome", lambda outcome, as_json: None)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    scenario = scenario_from_dict(
        {
            "name": "big",
            "workloads": {
                "w": {
                    "type": "calls",
                    "config": {"url": "ws://127.0.0.1:9/ws"},
                    "load": {"executor": "constant-vus", "vus": 200, "duration": "1s"},
                }
            },
        }
    )
    options = RunOptions(tmp_path, dashboard=DashboardSettings(0))
    assert shards.run_distributed(shards.Distribution(), scenario, options) == 0
    assert counts == [4]  # one per core, as without the page


async def fetch_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        return await response.json()


@pytest.mark.timeout(90)
async def test_callbench_http_serves_its_live_page_then_stops(tmp_path: Path) -> None:
    async def ok(_: web.Request) -> web.Response:
        await asyncio.sleep(0.005)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    target = web.AppRunner(app)
    await target.setup()
    site = web.TCPSite(target, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{target.addresses[0][1]}"
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text("- name: root\n  path: /\n  expect_status: 200\n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.cli", "http", "--url", base, "--endpoints", str(endpoints),
        "--stages", "8s:2", "--no-health-check", "--no-monitor", "--out", str(tmp_path / "run"),
        "--dashboard",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        found = re.search(rb"http://127\.0\.0\.1:\d+/", line)
        assert found is not None, line
        page = found.group().decode()
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                data = await fetch_json(http, page + "data.json")
                latency = data["charts"][2]  # report.html's latency chart: this run's requests
                if data["phase"] == "load" and any(line["ys"] for line in latency["lines"]):
                    assert latency["title"] == "HTTP request duration per second (ms)"
                    break
                assert time.monotonic() < deadline, data["phase"]
                await asyncio.sleep(0.2)
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, err.decode()
            text = out.decode()
            assert "Requests:" in text
            assert "Total calls" not in text
            with pytest.raises(aiohttp.ClientConnectionError):
                await fetch_json(http, page + "data.json")  # nothing left serving
        assert json.loads((tmp_path / "run" / "summary.json").read_text())["counters"]["http_reqs"]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await target.cleanup()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_taken_port_ends_the_command_with_a_clear_error(
    tmp_path: Path, workers: str
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text("- name: root\n  path: /\n", encoding="utf-8")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.cli", "http", "--url", "http://127.0.0.1:9",
            "--endpoints", str(endpoints), "--stages", "2s:1", "--no-health-check",
            "--no-monitor", "--out", str(tmp_path / "run"), "--dashboard", str(port),
            "--workers", workers,
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 45)
    finally:
        taken.close()
    text = err.decode()
    assert proc.returncode == 2, text
    assert f"cannot serve on 127.0.0.1:{port}" in text
    assert "give another port" in text
    assert "Traceback" not in text
    assert not (tmp_path / "run" / "workers").exists()  # refused before any worker started
