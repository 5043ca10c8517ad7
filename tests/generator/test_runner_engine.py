"""The runner end to end with a real tiny workload against a local aiohttp server: run
directory contents, reports, junit failures, abortOnFail, re-rendering, and Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from generator.errors import TargetUnreachable
from generator.options import RunOptions
from generator.report.rerender import summary_from_run_dir
from generator.report.terminal import render_terminal
from generator.runner import Runner
from generator.scenario import scenario_from_dict
from tests.generator.ping_workload import PingWorkload, start_server

REPO = Path(__file__).resolve().parents[2]


def scenario(load: dict[str, Any], thresholds: Any) -> Any:
    return scenario_from_dict(
        {
            "name": "ping",
            "workloads": {"ping": {"type": "calls", "load": load}},
            "thresholds": thresholds,
        }
    )


async def test_short_run_writes_every_report(tmp_path: Path) -> None:
    server, url = await start_server(delay_s=0.02, fail_every=4)
    try:
        sc = scenario(
            {"executor": "shared-iterations", "vus": 4, "iterations": 8},
            ["call_success:rate>=0.9", "turn_latency:p(95)<5000"],
        )
        outcome = await Runner(
            sc, RunOptions(tmp_path, handle_sigint=False), {"ping": PingWorkload(url)}
        ).run()
    finally:
        await server.cleanup()
    s = outcome.summary.to_json()
    assert outcome.exit_code == 1
    assert not s["passed"]
    assert s["calls"] == {"total": 8, "succeeded": 6, "failed": 2}
    assert s["errors"] == {"http_503": 2}
    assert s["metrics"]["turn_latency"]["count"] == 8
    assert 20 <= s["metrics"]["turn_latency"]["p50"] < 5000
    assert [(t["expr"], t["ok"]) for t in s["thresholds"]] == [
        ("call_success:rate>=0.9", False),
        ("turn_latency:p(95)<5000", True),
    ]
    for name in ("run.json", "metrics.jsonl", "metrics.hlog", "summary.json", "junit.xml"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "report.md").is_file()
    assert not (tmp_path / "events.jsonl").exists()  # the raw events are opt-in
    assert json.loads((tmp_path / "summary.json").read_text()) == s
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "2"
    assert suite.get("failures") == "1"
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["call_success:rate>=0.9"]
    report = (tmp_path / "report.md").read_text()
    for heading in (
        "## Summary",
        "## Configuration",
        "## Latency percentiles",
        "## Error breakdown",
        "## Thresholds",
        "## Verdict",
        "http_503",
    ):
        assert heading in report
    text = render_terminal(outcome.summary)
    assert "LOAD TEST RESULTS" in text
    assert "ERROR BREAKDOWN" in text
    assert "THRESHOLDS: failed" in text
    again = summary_from_run_dir(tmp_path).to_json()
    assert again["metrics"] == s["metrics"]
    assert again["thresholds"] == s["thresholds"]
    assert again["calls"] == s["calls"]
    assert again["status"] == "completed"


async def test_a_run_dir_given_again_holds_only_the_new_run(tmp_path: Path) -> None:
    server, url = await start_server(delay_s=0.0, fail_every=0)
    try:
        for iterations in (6, 3):
            sc = scenario({"executor": "shared-iterations", "vus": 2, "iterations": iterations}, [])
            runner = Runner(
                sc, RunOptions(tmp_path, handle_sigint=False), {"ping": PingWorkload(url)}
            )
            outcome = await runner.run()
    finally:
        await server.cleanup()
    assert outcome.summary.calls.total == 3
    assert summary_from_run_dir(tmp_path).calls == outcome.summary.calls  # the file agrees
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert sum('"k":"start"' in line for line in lines) == 1
    assert sum('"k":"end"' in line for line in lines) == 1


async def test_abort_on_fail_stops_the_run(tmp_path: Path) -> None:
    server, url = await start_server(delay_s=0.01, fail_every=1)
    try:
        sc = scenario(
            {"executor": "constant-vus", "vus": 2, "duration": "60s", "gracefulStop": "1s"},
            {"call_success": [{"threshold": "rate>=0.9", "abortOnFail": True}]},
        )
        began = time.monotonic()
        outcome = await Runner(
            sc, RunOptions(tmp_path, handle_sigint=False), {"ping": PingWorkload(url)}
        ).run()
    finally:
        await server.cleanup()
    assert time.monotonic() - began < 10
    assert outcome.exit_code == 1
    assert outcome.summary.status == "aborted"


async def test_unreachable_target_raises_before_load(tmp_path: Path) -> None:
    server, url = await start_server(delay_s=0)
    await server.cleanup()  # the port is now closed
    sc = scenario({"executor": "shared-iterations", "iterations": 1}, None)
    with pytest.raises(TargetUnreachable):
        await Runner(
            sc, RunOptions(tmp_path, handle_sigint=False), {"ping": PingWorkload(url)}
        ).run()


@pytest.mark.timeout(60)
async def test_ctrl_c_keeps_the_summary(tmp_path: Path) -> None:
    server, url = await start_server(delay_s=0.3)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{Path(__file__).parent}"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).parent / "ping_workload.py"),
        url,
        str(out),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        snapshots = out / "metrics.jsonl"  # a snapshot a second: the first call's shows here
        while time.monotonic() < deadline:
            if snapshots.is_file() and '"calls_total"' in snapshots.read_text():
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the run recorded no call within 30 s")
        proc.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.cleanup()
    assert proc.returncode == 130, stderr.decode()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["calls"]["total"] >= 1
    assert summary["passed"] is False
