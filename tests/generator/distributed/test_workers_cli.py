"""`--workers`, `--shard` and `callbench merge` end to end, against a local aiohttp server.

The CLI runs in a thread (its parent process blocks while it supervises the workers) or as
shard subprocesses, so the server keeps answering in the test's own event loop."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from bench.cli import main

ENDPOINTS = [{"name": "work", "path": "/work"}]


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[int]]]:
    hits = [0]

    async def work(request: web.Request) -> web.Response:
        hits[0] += 1
        return web.Response(text="ok", status=503 if request.path == "/fail" else 200)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "poolStats": {"total": 2, "idle": 2, "waiting": 0}}
        )

    async def memory(_: web.Request) -> web.Response:
        return web.json_response({"rss_mb": 48.0})

    app = web.Application()
    app.router.add_get("/work", work)
    app.router.add_get("/fail", work)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/debug/memory", memory)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", hits
    finally:
        await runner.cleanup()


def _summary(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def http_on_two_workers(url: str, tmp_path: Path, requests: int) -> list[str]:
    """`callbench http` of ``requests`` GETs of /work, 4 at a time, on 2 workers, into RUN."""
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text(yaml.safe_dump(ENDPOINTS), encoding="utf-8")
    return ["http", "--url", url, "--endpoints", str(endpoints), "--requests", str(requests),
            "--concurrency", "4", "--no-health-check", "--workers", "2",
            "--out", str(tmp_path / "run")]  # fmt: skip


@pytest.mark.timeout(90)
async def test_two_workers_run_exactly_the_requested_iterations(
    server: tuple[str, list[int]], tmp_path: Path
) -> None:
    url, hits = server
    out = tmp_path / "run"
    code = await asyncio.to_thread(main, http_on_two_workers(url, tmp_path, 41))
    assert code == 0
    summary = _summary(out)
    assert summary["iterations"] == 41 == hits[0]
    assert summary["counters"]["http_reqs"] == 41
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert meta["workers"] == 2
    per_worker = [_summary(out / "workers" / str(i))["iterations"] for i in range(2)]
    assert sorted(per_worker) == [20, 21]
    assert main(["report", str(out), "--format", "json"]) == 0  # the merged dir re-renders


@pytest.mark.timeout(90)
async def test_the_parent_monitors_the_target_of_a_workers_run(
    server: tuple[str, list[int]], tmp_path: Path
) -> None:
    url, hits = server
    out = tmp_path / "run"
    argv = http_on_two_workers(url, tmp_path, 40)
    argv += ["--health-url", f"{url}/healthz", "--memory-url", f"{url}/debug/memory",
             "--pid", str(os.getpid()), "--cooldown", "2s"]  # fmt: skip
    code = await asyncio.to_thread(main, argv)
    assert code == 0
    assert hits[0] == 40
    rows = [json.loads(line) for line in (out / "monitor.jsonl").read_text().splitlines()]
    assert {"baseline", "load", "cooldown"} <= {r["phase"] for r in rows}
    assert all(r.get("pool_size") == 2 for r in rows), rows[0]
    assert any(r.get("rss_bytes") for r in rows)  # the --pid source, read by the parent
    for i in range(2):  # the workers themselves did not monitor
        assert not (out / "workers" / str(i) / "monitor.jsonl").exists()
    summary = _summary(out)
    assert summary["zone"] in ("green", "yellow", "red")
    assert sum(summary["monitor"]["samples"].values()) == len(rows)
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert meta["workers"] == 2
    assert meta["monitor"]["cooldown_s"] == 2.0


@pytest.mark.timeout(90)
async def test_abort_on_fail_across_workers_stops_both(
    server: tuple[str, list[int]], tmp_path: Path
) -> None:
    url, _ = server
    scenario = {
        "name": "abort",
        "workloads": {
            "http": {
                "type": "http",
                "config": {"base_url": url, "endpoints": [{"name": "f", "path": "/fail",
                           "expect_status": 200}], "health_path": None},
                "load": {"executor": "constant-vus", "vus": 4, "duration": "60s"},
            }
        },
        "thresholds": {"http_req_failed": [{"threshold": "rate<0.5", "abortOnFail": True}]},
    }  # fmt: skip
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    out = tmp_path / "run"
    started = time.monotonic()
    code = await asyncio.to_thread(main, ["run", str(path), "--workers", "2", "--out", str(out)])
    assert time.monotonic() - started < 40  # far short of the 60 s the load asks for
    assert code == 1
    assert _summary(out)["status"] == "aborted"
    for i in range(2):
        snapshots = (out / "workers" / str(i) / "metrics.jsonl").read_text(encoding="utf-8")
        assert '"k":"end"' in snapshots  # each worker stopped and wrote its results


@pytest.mark.timeout(90)
async def test_shards_then_merge_round_trip(server: tuple[str, list[int]], tmp_path: Path) -> None:
    url, hits = server
    scenario = {
        "name": "sharded",
        "workloads": {
            "http": {
                "type": "http",
                "config": {"base_url": url, "endpoints": ENDPOINTS, "health_path": None},
                "load": {"executor": "shared-iterations", "vus": 5, "iterations": 30},
            }
        },
        "thresholds": ["http_req_failed:rate<0.05", "iterations:count==30"],
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    shards = [tmp_path / f"shard-{i}" for i in range(3)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.cli", "run", str(path), "--shard", f"{i}/3",
            "--out", str(shard), stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for i, shard in enumerate(shards)
    ]  # fmt: skip
    results = await asyncio.gather(*(p.communicate() for p in procs))
    assert [p.returncode for p in procs] == [0, 0, 0], [r[1] for r in results]
    assert [_summary(s)["iterations"] for s in shards] == [10, 10, 10]
    merged = tmp_path / "merged"
    code = await asyncio.to_thread(
        main, ["merge", *map(str, shards), "--out", str(merged), "--json"]
    )
    assert code == 0
    summary = _summary(merged)
    assert summary["iterations"] == 30 == hits[0]
    assert [t["ok"] for t in summary["thresholds"]] == [True, True]
    config = summary["config"]
    assert config["workloads"]["http"]["load"]["iterations"] == 30
    # A slice given twice is refused, with the reason.
    assert await asyncio.to_thread(main, ["merge", str(shards[0]), str(shards[0])]) == 2
