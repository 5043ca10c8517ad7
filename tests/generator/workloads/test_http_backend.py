"""The issue's acceptance tests for `callbench http` against the real mock backend: the shipped
endpoints file under `--stages 5s:5,10s:10,5s:0` passes the seed's thresholds at the default
limits; with the API rate limit lowered the 429s show in http_req_failed, exactly as many as the
limiter refused, and the run exits 1. The token never reaches the run directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.stack.postgres import PostgresInfo
from generator.metrics.store import MetricsStore
from tests.generator.workloads.backend_support import DEV_TOKEN, backend, postgres
from tests.generator.workloads.cli_support import REPO, callbench, grep_dir

ENDPOINTS = str(REPO / "examples" / "endpoints-mock-backend.yaml")


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresInfo]:
    with postgres() as info:
        yield info


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_the_shipped_mix_passes_the_preset_under_ramping_stages(
    pg: PostgresInfo, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    async with backend(pg) as server:
        result = await callbench(
            "http", "--url", server.url, "--endpoints", ENDPOINTS,
            "--stages", "5s:5,10s:10,5s:0", "--think", "1", "--preset-thresholds",
            "--out", str(out), "--json", env={"API_TOKEN": DEV_TOKEN}, timeout_s=100,
        )  # fmt: skip
    assert result.code == 0, result.stderr + result.stdout[-2000:]
    summary = result.summary()
    assert summary["rates"]["http_req_failed"] == 0
    assert all(t["ok"] for t in summary["thresholds"])
    store = MetricsStore.from_snapshots(out)
    for endpoint in ("health", "root", "calls_dashboard", "vapi_webhook_health", "assistants"):
        assert store.counter("http_reqs", {"endpoint": endpoint}) > 0, endpoint
    assert store.rate("health_check", {"phase": "start"}).passes == 1
    assert grep_dir(out, DEV_TOKEN) == []


@pytest.mark.timeout(90)
async def test_a_lowered_api_limit_shows_as_failed_requests_and_exit_1(
    pg: PostgresInfo, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    async with backend(pg, api_rate_per_min=10) as server:
        result = await callbench(
            "http", "--url", server.url, "--endpoints", ENDPOINTS, "--requests", "80",
            "--concurrency", "4", "--preset-thresholds", "--out", str(out), "--json",
            env={"API_TOKEN": DEV_TOKEN},
        )  # fmt: skip
    assert result.code == 1, result.stderr
    summary = result.summary()
    assert summary["rates"]["http_req_failed"] > 0.05
    failed = [t["expr"] for t in summary["thresholds"] if not t["ok"]]
    assert "http_req_failed:rate<0.05" in failed
    store = MetricsStore.from_snapshots(out)
    # Everything under /api/ (webhook health included) shares the API limit.
    api = ("calls_dashboard", "assistants", "vapi_webhook_health")
    api_requests = sum(store.counter("http_reqs", {"endpoint": name}) for name in api)
    assert api_requests > 10
    assert summary["errors"]["http_429"] == api_requests - 10  # all the limiter refused
