"""Two real shard processes launched a second apart with one `--start-at` instant start their
load together, and the merge finds them aligned (each slice's offset well under a second)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from bench.cli import main

LEAD_S = 5.0  # the instant is this far after the first launch: both processes are up by then
STAGGER_S = 1.0  # the second shard is launched this much later (a pod scheduled late)
SETUP_S = 1.0  # at most this long from the instant to a shard's store start, on a busy machine


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[int]]]:
    hits = [0]

    async def work(_: web.Request) -> web.Response:
        hits[0] += 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/work", work)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", hits
    finally:
        await runner.cleanup()


@pytest.mark.timeout(90)
async def test_shards_launched_apart_start_at_one_instant(
    server: tuple[str, list[int]], tmp_path: Path
) -> None:
    url, hits = server
    scenario = {
        "name": "held-shards",
        "workloads": {
            "http": {
                "type": "http",
                "config": {"base_url": url, "endpoints": [{"name": "w", "path": "/work"}],
                           "health_path": None},
                "load": {"executor": "shared-iterations", "vus": 2, "iterations": 20},
            }
        },
        "thresholds": ["iterations:count==20"],
    }  # fmt: skip
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    at = time.time() + LEAD_S
    instant = dt.datetime.fromtimestamp(at, dt.UTC).isoformat()
    shards = [tmp_path / f"shard-{i}" for i in range(2)]
    procs = []
    for i, shard in enumerate(shards):
        if i:
            await asyncio.sleep(STAGGER_S)  # deliberately launched later, not waiting for anything
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.cli", "run", str(path), "--shard", f"{i}/2",
                "--start-at", instant, "--out", str(shard),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )
        )  # fmt: skip
    results = await asyncio.gather(*(p.communicate() for p in procs))
    errs = [r[1].decode() for r in results]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert all("waiting until" in e for e in errs), errs  # both were up before the instant
    starts = [json.loads((s / "run.json").read_text())["wall_start"] for s in shards]
    for start in starts:
        assert at <= start <= at + SETUP_S
    assert hits[0] == 20
    merged = tmp_path / "merged"
    assert await asyncio.to_thread(main, ["merge", *map(str, shards), "--out", str(merged)]) == 0
    offsets = json.loads((merged / "run.json").read_text())["slice_offsets_s"]
    assert sorted(offsets) == ["0", "1"]
    assert max(offsets.values()) < SETUP_S < STAGGER_S + SETUP_S  # without the wait: >= 1 s
    assert min(offsets.values()) == 0.0
