"""Issue-level acceptance of `callbench calls`, run as a real process against the real mocks:
the quick and 50-call runs against the backend and straight against the upstream, Twilio Media
Streams against the backend (voice-to-voice, barge-in), and no coordinated omission under an open
model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.stack.postgres import PostgresInfo
from generator.metrics.hlog import read_intervals
from mocks.realtime.server import RealtimeServer
from tests.generator.workloads.backend_support import backend, postgres
from tests.generator.workloads.cli_support import callbench

SHORT: dict[str, Any] = {"greeting_ms": 200, "answer_ms": 300}
# One generator process: these runs check calls, not the worker split (tested elsewhere).
ONE = ["--workers", "1", "--no-monitor"]


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresInfo]:
    with postgres() as info:
        yield info


@pytest.fixture
async def upstream() -> AsyncIterator[RealtimeServer]:
    async with RealtimeServer(seed=3, **SHORT) as server:
        yield server


def succeeded(summary: dict[str, Any], total: int) -> None:
    assert summary["calls"]["total"] == total, summary["calls"]
    assert summary["calls"]["succeeded"] == total, summary["errors"]
    assert summary["passed"] is True


@pytest.mark.timeout(120)
async def test_quick_and_50_calls_through_the_backend(
    pg: PostgresInfo, upstream: RealtimeServer, tmp_path: Path
) -> None:
    async with backend(pg, upstream_url=upstream.url) as server:
        url = server.ws_url + "/ws/voice"
        quick = await callbench("calls", "--url", url, "--quick", "--json", *ONE,
                                "--out", str(tmp_path / "quick"))  # fmt: skip
        assert quick.code == 0, quick.stderr
        succeeded(quick.summary(), 1)
        fifty = await callbench("calls", "--url", url, "--calls", "50", "--json", *ONE,
                                "--out", str(tmp_path / "fifty"))  # fmt: skip
        assert fifty.code == 0, fifty.stderr
        summary = fifty.summary()
        succeeded(summary, 50)
        assert summary["metrics"]["turn_latency"]["count"] == 100  # two turns a call
        for name in ("connect_time", "greeting_latency", "response_time", "send_lag"):
            assert summary["metrics"][name]["count"] > 0, name


@pytest.mark.timeout(120)
async def test_quick_and_50_calls_straight_to_the_upstream(
    upstream: RealtimeServer, tmp_path: Path
) -> None:
    url = upstream.url
    quick = await callbench("calls", "--url", url, "--protocol", "realtime", "--quick",
                            "--json", *ONE, "--out", str(tmp_path / "quick"))  # fmt: skip
    assert quick.code == 0, quick.stderr
    succeeded(quick.summary(), 1)
    fifty = await callbench("calls", "--url", url, "--protocol", "realtime", "--calls", "50",
                            "--json", *ONE, "--out", str(tmp_path / "fifty"))  # fmt: skip
    assert fifty.code == 0, fifty.stderr
    succeeded(fifty.summary(), 50)


@pytest.mark.timeout(120)
async def test_twilio_media_streams_through_the_backend(
    pg: PostgresInfo, upstream: RealtimeServer, tmp_path: Path
) -> None:
    async with backend(pg, upstream_url=upstream.url) as server:
        result = await callbench("calls", "--url", server.ws_url + "/media-stream",
                                 "--protocol", "twilio", "--calls", "5", "--json", *ONE,
                                 "--out", str(tmp_path / "twilio"))  # fmt: skip
    assert result.code == 0, result.stderr
    summary = result.summary()
    succeeded(summary, 5)
    assert summary["metrics"]["turn_latency"]["count"] == 10
    # Voice-to-voice: the upstream's VAD waits 500 ms of the line's silence before it answers.
    assert summary["metrics"]["turn_latency"]["p50"] > 500


@pytest.mark.timeout(120)
async def test_twilio_barge_in_through_the_backend(pg: PostgresInfo, tmp_path: Path) -> None:
    async with (
        RealtimeServer(seed=3, greeting_ms=200, answer_ms=3000) as long_answers,
        backend(pg, upstream_url=long_answers.url) as server,
    ):
        result = await callbench("calls", "--url", server.ws_url + "/media-stream",
                                 "--protocol", "twilio", "--calls", "3", "--barge-in", "1",
                                 "--greeting", "none", "--quiet-gap", "500", "--json", *ONE,
                                 "--out", str(tmp_path / "barge"))  # fmt: skip
    assert result.code == 0, result.stderr
    summary = result.summary()
    succeeded(summary, 3)
    assert summary["metrics"]["barge_in_reaction"]["count"] == 3  # one per call (2 turns)
    assert "greeting_latency" not in summary["metrics"] or (
        summary["metrics"]["greeting_latency"]["count"] == 0
    )


@pytest.mark.timeout(120)
async def test_open_model_shows_a_1s_stall_in_10_percent_of_responses(tmp_path: Path) -> None:
    # Every response of every session may be delayed 1 s with probability 0.1. Under a constant
    # arrival rate the slow responses must show in p95/p99 at their full size: the generator
    # neither waits for them before starting the next call nor drops them.
    faults = {"latency": {"distribution": "fixed", "ms": 1000, "probability": 0.1}}
    async with RealtimeServer(faults, seed=11, **SHORT) as server:
        result = await callbench("calls", "--url", server.url, "--protocol", "realtime",
                                 "--rate", "10", "--duration", "6s", "--turns", "2", "--json",
                                 *ONE, "--threshold", "call_success:rate>=0.9",
                                 "--out", str(tmp_path / "open"))  # fmt: skip
        async with (
            aiohttp.ClientSession() as http,
            http.get(server.admin_url + "/admin/stats") as response,
        ):
            stats = await response.json()
    assert result.code == 0, result.stderr
    summary = result.summary()
    assert summary["dropped_iterations"] == 0
    responses = [r for s in stats["sessions"] for r in s["responses"]]
    delayed = [r for r in responses if (r["injected_latency_ms"] or 0) >= 1000]
    assert 0.05 * len(responses) <= len(delayed) <= 0.2 * len(responses)  # about a tenth
    turns = summary["metrics"]["turn_latency"]
    assert turns["p50"] < 500
    assert turns["p95"] >= 1000
    assert turns["p99"] >= 1000
    assert (tmp_path / "open" / "metrics.hlog").stat().st_size > 0


@pytest.mark.timeout(120)
async def test_a_scenario_mixing_calls_and_an_http_mix_runs_both_at_once(
    pg: PostgresInfo, upstream: RealtimeServer, tmp_path: Path
) -> None:
    async with backend(pg, upstream_url=upstream.url) as server:
        scenario = tmp_path / "mix.yaml"
        scenario.write_text(
            f"""
name: calls-and-api
seed: 5
workloads:
  callers:
    type: calls
    config: {{url: "{server.ws_url}/ws/voice", turns: 1}}
    load: {{executor: constant-vus, vus: 3, duration: 4s}}
  dashboard:
    type: http
    config:
      base_url: "{server.url}"
      think_min_s: 0.2
      think_max_s: 0.4
      endpoints:
        - {{name: health, method: GET, path: /health}}
        - {{name: call-logs, method: GET, path: "/api/call-logs?page=1"}}
    load: {{executor: constant-vus, vus: 2, duration: 4s}}
thresholds:
  call_success: ["rate>=0.9"]
  http_req_failed: ["rate<0.05"]
""",
            encoding="utf-8",
        )
        out = tmp_path / "mix"
        result = await callbench("run", str(scenario), "--json", *ONE, "--out", str(out))
    assert result.code == 0, result.stderr
    summary = result.summary()
    assert summary["calls"]["total"] > 0
    assert summary["metrics"]["turn_latency"]["count"] > 0
    assert summary["metrics"]["http_req_duration"]["count"] > 0
    assert {t["expr"] for t in summary["thresholds"]} >= {
        "call_success:rate>=0.9",
        "http_req_failed:rate<0.05",
    }
    # On one timeline: both workloads were recording during the same seconds.
    seconds: dict[str, set[int]] = {"turn_latency": set(), "http_req_duration": set()}
    with (out / "metrics.hlog").open(encoding="utf-8") as log:
        for interval in read_intervals(log):
            if interval.key[0] in seconds:
                seconds[interval.key[0]].add(interval.second)
    assert seconds["turn_latency"] & seconds["http_req_duration"]
    report = (out / "report.md").read_text()
    assert "turn_latency" in report
    assert "http_req_duration" in report
