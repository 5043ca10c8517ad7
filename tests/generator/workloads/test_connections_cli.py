"""`callbench connections` end to end against a small real websockets server: hold mode ramps to
the target and holds; burst mode counts accepted and rejected requests; bad input exits 2; the
shipped visitor-flow scenario's parts are valid."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from generator.load.config import parse_load
from generator.metrics.thresholds import parse_thresholds
from generator.workloads.connections import build_connections
from tests.generator.workloads.cli_support import callbench

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


class Voice:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.open = 0
        self.peak = 0
        self.pages: list[str] = []
        self.utterances = 0
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        if self.open >= self.capacity:
            await ws.close(1013, "server at capacity")
            return
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            await ws.send(json.dumps({"type": "session.ready"}))
            await ws.send(json.dumps({"type": "response.started", "kind": "greeting"}))
            async for message in ws:
                if isinstance(message, str) and "end_of_utterance" in message:
                    self.utterances += 1
        except ConnectionClosed:
            pass
        finally:
            self.open -= 1


@pytest.fixture
async def voice() -> AsyncIterator[Voice]:
    state = Voice(capacity=8)
    async with serve(state.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        state.url = f"ws://127.0.0.1:{port}/ws/voice"
        yield state


@pytest.mark.timeout(60)
async def test_hold_mode_ramps_to_the_target_and_holds(voice: Voice, tmp_path: Path) -> None:
    result = await callbench(
        "connections", "--url", voice.url, "--target", "6", "--ramp", "1s", "--hold", "1-1.5",
        "--out", str(tmp_path / "run"), "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    summary = result.summary()
    assert voice.peak == 6
    assert summary["counters"]["ws_sessions"] >= 6
    assert summary["rates"]["ws_success"] == 1.0
    assert summary["metrics"]["ws_connecting"]["count"] == summary["counters"]["ws_sessions"]


@pytest.mark.timeout(60)
async def test_burst_mode_counts_rejections_at_capacity(voice: Voice, tmp_path: Path) -> None:
    voice.capacity = 0  # everything is turned away
    result = await callbench(
        "connections", "--url", voice.url + "/{id}", "--rate", "10", "--duration", "1s",
        "--out", str(tmp_path / "run"), "--json",
    )  # fmt: skip
    assert result.code == 1, result.stderr
    summary = result.summary()
    assert summary["counters"]["call_requests_total"] == 10
    assert summary["errors"]["server_capacity"] == 10
    assert summary["rates"]["call_accepted"] == 0


async def test_bad_input_exits_2() -> None:
    result = await callbench("connections", "--url", "http://x", "--hold", "9-3")
    assert result.code == 2
    assert "ws://" in result.stderr
    assert "--hold" in result.stderr
    assert "--target" in result.stderr


def test_the_visitor_flow_example_is_valid() -> None:
    data = yaml.safe_load((EXAMPLES / "scenario-visitor-flow.yaml").read_text())
    spec = data["workloads"]["visitors"]
    assert spec["type"] == "connections"
    workload = build_connections("visitors", spec["config"])
    assert workload.config.interact_probability == 0.3
    assert (workload.config.hold_min_s, workload.config.hold_max_s) == (60, 180)
    assert parse_load(spec["load"]).max_vus == 20
    assert len(parse_thresholds(data["thresholds"])) == 3
