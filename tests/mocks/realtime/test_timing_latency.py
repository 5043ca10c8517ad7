"""Precision of an injected latency as a client on loopback lives it: the fake upstream runs as
the bench runs it (``callbench mock realtime`` in its own process), a fixed 300 ms latency, and
the time from sending ``response.create`` to receiving the first audio delta is within ±2 ms of
300 ms at p1 and p99. Marker ``timing``: it runs alone, after the rest, on a machine at rest.

Five rounds of 100 responses, each on its own session, and the median round's percentiles are
held to the bound: on the 2-vCPU virtual machines this runs on, bursts of a few seconds now and
then stall a process for 3-13 ms (a socket write of 13 ms, timers 7 ms late beside a 7 ms head
start, seen in the fake's own timings), which one round of 100 cannot tell from imprecision.
Three rounds were not enough on CI's machine: two of them caught such bursts (p99 302.4 and
303.1 ms beside 301.5, p50 300.6-300.7 in all three). The fake is never early, in any
round. Percentiles are by nearest rank, as the generator's HDR histograms read them: p99 of 100
responses is the 99th smallest (a VM's idle vCPU now and then wakes 5-11 ms late; the fake can
shorten, not abolish, that)."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import signal
import sys
import time
from pathlib import Path
from statistics import median

import pytest
from websockets.asyncio.client import connect

from generator.protocols.base import TimedConnection
from tests.mocks.realtime.rt_api_helpers import admin
from tests.support.percentiles import nearest_rank

LATENCY_MS = 300.0
TOLERANCE_MS = 2.0
RESPONSES = 100
ROUNDS = 5
MANUAL = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


async def client_latencies(url: str, n: int) -> list[float]:
    """``n`` responses one after another; each: send → first audio delta, in ms. The delta's
    arrival is stamped as its bytes come in (the generator's TimedConnection), not when this
    task next runs: the figure is the fake's, not the test process's scheduling."""
    out: list[float] = []
    uri = f"{url}?model=gpt-realtime"
    async with connect(uri, compression=None, proxy=None, create_connection=TimedConnection) as ws:
        assert isinstance(ws, TimedConnection)
        assert json.loads(await ws.recv())["type"] == "session.created"
        await ws.send(json.dumps({"type": "session.update", "session": MANUAL}))
        ws.arrivals.clear()
        for _ in range(n):
            sent = time.monotonic()
            await ws.send(json.dumps({"type": "response.create"}))
            first: float | None = None
            async with asyncio.timeout(5):
                while True:
                    event = json.loads(await ws.recv())
                    arrived = ws.arrivals.popleft()
                    if first is None and event["type"] == "response.output_audio.delta":
                        first = arrived
                    if event["type"] == "response.done":
                        break
            assert first is not None
            out.append((first - sent) * 1000)
    return out


@pytest.mark.timing
@pytest.mark.timeout(360)
async def test_a_fixed_latency_arrives_within_2_ms_at_p99(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"latency": {"distribution": "fixed", "ms": LATENCY_MS}}))
    argv = ["-m", "bench.cli", "mock", "realtime", "--port", "0", "--admin-port", "0"]
    argv += ["--faults", str(faults), "--greeting-ms", "20", "--chunk-ms", "20"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.search(r"ws (\S+) admin (\S+)", line)
        assert match, line
        url, admin_url = match.groups()
        # The test process's heap is pytest's: a full collection there lasts milliseconds and
        # would be counted against the fake. The fake's own process keeps its collector on.
        gc.disable()
        try:
            measured = [await client_latencies(url, RESPONSES) for _ in range(ROUNDS)]
        finally:
            gc.enable()
        _, stats = await admin("GET", f"{admin_url}/admin/stats")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    server = [[r["create_to_first_delta_ms"] for r in s["responses"]] for s in stats["sessions"]]
    assert [len(responses) for responses in server] == [RESPONSES] * ROUNDS
    rounds = [
        (nearest_rank(client, 0.01), nearest_rank(client, 0.5), nearest_rank(client, 0.99), own)
        for client, own in zip(measured, server, strict=True)
    ]
    # Every round in the message: a late server means a busy machine, not a slow network.
    summary = "; ".join(
        f"round {i}: client p1 {low:.2f} p50 {p50:.2f} p99 {high:.2f} ms, server p50 "
        f"{nearest_rank(own, 0.5):.2f} p99 {nearest_rank(own, 0.99):.2f} ms"
        for i, (low, p50, high, own) in enumerate(rounds)
    )
    summary += f"; the server's timer head start {stats['timer_head_start_ms']} ms"
    assert median(low for low, _, _, _ in rounds) >= LATENCY_MS - TOLERANCE_MS, summary
    assert median(high for _, _, high, _ in rounds) <= LATENCY_MS + TOLERANCE_MS, summary
    # The server's own account (receive → send) agrees, and is never early.
    assert min(min(own) for own in server) >= LATENCY_MS, summary
    assert median(nearest_rank(own, 0.99) for own in server) <= LATENCY_MS + TOLERANCE_MS, summary
