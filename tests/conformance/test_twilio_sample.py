"""Twilio's reference bridge between Media Streams and the OpenAI Realtime API
(twilio-samples/speech-assistant-openai-realtime-api-python, ``main.py``, MIT) as the system
under test, unmodified but for its upstream URL, which points at the fake upstream.

Its code stays out of this repository: set ``CALLBENCH_TWILIO_SAMPLE`` to a checkout of it (the
folder holding ``main.py``); the test copies ``main.py`` to a temporary folder, replaces only
``wss://api.openai.com`` with the fake's loopback address, and serves it with uvicorn on
127.0.0.1. Without the variable the test skips and says so.

The bridge waits for the caller to speak first (its greeting is commented out), sends a
``responsePart`` mark after every audio chunk, and on ``speech_started`` truncates the item and
sends ``clear``: the generator must call it as Twilio does to get any answer at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.audio import FRAME_MS
from mocks.realtime.server import RealtimeServer
from tests.conformance.conformance_helpers import (
    API_KEY,
    SILENCE_MS,
    callbench_calls,
    cancelled_responses,
    child,
    wait_for_port,
)
from tests.support.ports import free_port

OPENAI_HOST = "wss://api.openai.com"
ENV = "CALLBENCH_TWILIO_SAMPLE"


def _sample_main() -> str:
    checkout = os.environ.get(ENV)
    if not checkout:
        pytest.skip(
            f"{ENV} is not set: point it at a checkout of Twilio's reference bridge "
            "(github.com/twilio-samples/speech-assistant-openai-realtime-api-python) to run it"
        )
    main = Path(checkout) / "main.py"
    if not main.is_file():
        pytest.fail(f"{ENV}={checkout}: no main.py there; point it at the sample's checkout")
    source = main.read_text()
    if (found := source.count(OPENAI_HOST)) != 1:
        pytest.fail(f"{main}: expected {OPENAI_HOST} exactly once, found it {found} times")
    return source


@dataclass(frozen=True)
class Bridge:
    url: str  # the sample's Twilio stream endpoint
    upstream: RealtimeServer  # the fake behind it, for its ground truth


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """The sample, its upstream URL on the fake."""
    source = _sample_main()
    async with RealtimeServer(seed=15, answer_ms=2000, api_key=API_KEY) as upstream:
        fake_host = upstream.url.removesuffix("/v1/realtime")
        app_dir = tmp_path / "sample"
        app_dir.mkdir()
        (app_dir / "main.py").write_text(source.replace(OPENAI_HOST, fake_host))
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "main:app", "--app-dir", str(app_dir)]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        # The bridge never closes its upstream session when the caller hangs up (Starlette's
        # iter_text ends quietly, so its WebSocketDisconnect handler never runs): uvicorn would
        # wait on those sessions at shutdown.
        argv += ["--timeout-graceful-shutdown", "2"]
        # The sample prints every upstream event to stdout: into its log, not the test's output.
        with (tmp_path / "sample.stdout").open("wb") as stdout:
            env = {"OPENAI_API_KEY": API_KEY, "PYTHONUNBUFFERED": "1"}
            log = tmp_path / "sample.log"
            async with child(argv, log, env, stdout=stdout, cwd=app_dir) as server:
                await wait_for_port(port, 30, alive=server)
                yield Bridge(f"ws://127.0.0.1:{port}/media-stream", upstream)


@pytest.mark.timeout(150)
async def test_generator_calls_twilios_reference_bridge(bridge: Bridge, tmp_path: Path) -> None:
    flags = ["--calls", "10", "--turns", "2", "--greeting", "none"]
    summary = await callbench_calls(bridge.url, tmp_path / "run", *flags)
    calls = summary["calls"]
    assert calls["succeeded"] >= 9, (calls, summary["errors"], summary["_stderr"])
    metrics = summary["metrics"]
    turn, response = metrics["turn_latency"], metrics["response_time"]
    assert turn["count"] == response["count"] == 2 * calls["succeeded"], (turn, response)
    # Voice-to-voice includes the fake's default 500 ms of VAD silence (less one 20 ms frame:
    # the caller's and the VAD's last voiced frame may differ by one); the bridge adds little.
    assert turn["min"] >= SILENCE_MS - FRAME_MS, turn
    assert "greeting_latency" not in metrics  # the sample waits for the caller to speak


@pytest.mark.timeout(150)
async def test_generator_measures_the_bridges_barge_in_reaction(
    bridge: Bridge, tmp_path: Path
) -> None:
    flags = ["--calls", "4", "--turns", "2", "--greeting", "none", "--barge-in", "1"]
    summary = await callbench_calls(bridge.url, tmp_path / "run", *flags)
    assert summary["calls"]["succeeded"] >= 3, (summary["calls"], summary["errors"])
    reaction = summary["metrics"]["barge_in_reaction"]
    assert reaction["count"] >= 3, reaction
    # On speech_started the bridge truncates the item and sends `clear`: never talked over.
    assert summary["counters"]["barge_in_ignored"] == 0, (reaction, summary["counters"])
    assert 0 < reaction["min"] <= reaction["max"] < 2000, reaction
    # The fake's own record: its VAD cancelled each answer the caller talked over.
    assert cancelled_responses(bridge.upstream) >= reaction["count"], bridge.upstream.stats
