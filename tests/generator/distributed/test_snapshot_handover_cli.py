"""Issue 17's acceptance for the snapshots, on loopback: `callbench http --workers 2` at full
speed for 10 s leaves a small run directory and exits soon after its load (the workers hand their
snapshots over, nothing is read again after the load); with `--raw-events run.jsonl.gz` the raw
lines are there, and `callbench report` reads the run from either.

The target is a minimal keep-alive HTTP/1.1 server in its own process (a fixed 200 answer per
request), so the client, not the target, sets the pace."""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.generator.workloads.cli_support import callbench

LIMIT_MB = 2.0
EXIT_WITHIN_S = 2.0

SERVER = r"""
import asyncio

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")  # GETs without a body
        if count:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4:]
            self.transport.write(ANSWER * count)

async def main():
    server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(600)  # the test kills it when it is done

asyncio.run(main())
"""


@pytest.fixture
async def target() -> AsyncIterator[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        port = int(await asyncio.wait_for(proc.stdout.readline(), 30))
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def _endpoints(tmp_path: Path) -> Path:
    path = tmp_path / "endpoints.yaml"
    path.write_text("- {name: root, path: /}\n", encoding="utf-8")
    return path


def _size_mb(directory: Path) -> float:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 1e6


async def _report_json(run_dir: Path) -> dict[str, Any]:
    result = await callbench("report", str(run_dir), "--format", "json")
    assert result.code == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.mark.timeout(120)
async def test_ten_seconds_on_two_workers_leave_a_small_dir_and_exit_soon(
    target: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = await callbench(
        "http", "--url", target, "--endpoints", str(_endpoints(tmp_path)),
        "--stages", "1s:32,9s:32", "--workers", "2", "--no-health-check", "--no-monitor",
        "--out", str(out), "--json",
    )  # fmt: skip
    exited = time.time()
    assert result.code == 0, result.stderr
    summary = result.summary()
    requests = summary["counters"]["http_reqs"]
    assert requests > 5000, requests  # full speed, not a trickle
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    load_end = meta["wall_start"] + summary["duration_s"]
    size = _size_mb(out)
    print(f"{requests} requests, {size:.2f} MB, exited {exited - load_end:.2f} s after the load")
    assert size < LIMIT_MB, sorted((p.stat().st_size, str(p)) for p in out.rglob("*.*"))
    assert exited - load_end < EXIT_WITHIN_S
    assert not list(out.rglob("events.jsonl*"))  # no raw events unless asked
    assert (out / "metrics.jsonl").is_file()
    assert (out / "metrics.hlog").is_file()
    again = await _report_json(out)  # callbench report reads the merged snapshots
    assert again["counters"] == summary["counters"]
    assert again["metrics"] == summary["metrics"]


@pytest.mark.timeout(120)
async def test_raw_events_gz_hold_every_request_and_report_reads_either(
    target: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = await callbench(
        "http", "--url", target, "--endpoints", str(_endpoints(tmp_path)),
        "--stages", "1s:8,1s:8", "--workers", "2", "--no-health-check", "--no-monitor",
        "--raw-events", "run.jsonl.gz", "--out", str(out), "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    summary = result.summary()
    requests = summary["counters"]["http_reqs"]
    with gzip.open(out / "run.jsonl.gz", "rt", encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle]
    assert lines[0]["k"] == "start"
    assert lines[-1]["k"] == "end"
    assert sum(1 for e in lines if e["k"] == "c" and e["n"] == "http_reqs") == requests
    for i in range(2):  # each worker wrote its own too, which the merged file gathers
        assert (out / "workers" / str(i) / "run.jsonl.gz").is_file()
    from_snapshots = await _report_json(out)
    raw_only = tmp_path / "raw-only"  # the raw file alone, as a run written before snapshots
    raw_only.mkdir()
    for name in ("run.json", "run.jsonl.gz"):
        shutil.copy(out / name, raw_only / name)
    from_raw = await _report_json(raw_only)
    for got in (from_snapshots, from_raw):
        assert got["counters"] == summary["counters"]
        assert got["rates"] == summary["rates"]
    assert from_raw["metrics"]["http_req_duration"]["count"] == requests
    p99 = summary["metrics"]["http_req_duration"]["p99"]
    assert from_raw["metrics"]["http_req_duration"]["p99"] == p99
