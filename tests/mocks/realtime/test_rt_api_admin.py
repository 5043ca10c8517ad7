"""The admin port of the fake Realtime upstream: health, fault documents validated with every
problem reported at once, faults switched at run time, reset, ground-truth stats, and the
Prometheus metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mocks.realtime.server import RealtimeServer
from tests.mocks.realtime.rt_api_helpers import admin, greeting, open_session, recv

MS = 100


@pytest.fixture
async def server() -> AsyncIterator[RealtimeServer]:
    async with RealtimeServer(seed=9, greeting_ms=MS, answer_ms=MS) as srv:
        yield srv


async def one_greeting(
    server: RealtimeServer, *, beta: bool = False, model: str = "gpt-realtime"
) -> str:
    ws = await open_session(server.url, beta=beta, model=model)
    try:
        await recv(ws)
        events = await greeting(ws)
    finally:
        await ws.close()
    return str(events[-1]["response"]["status"])


async def test_health(server: RealtimeServer) -> None:
    assert await admin("GET", f"{server.admin_url}/health") == (200, {"status": "ok"})


async def test_put_faults_reports_every_problem(server: RealtimeServer) -> None:
    bad = {
        "latency": {"distribution": "fixed", "ms": -5},
        "stall": {"probability": 2},
        "drop": {"probability": 0.1, "mode": "explode"},
        "nonsense": {},
    }
    status, body = await admin("PUT", f"{server.admin_url}/admin/faults", bad)
    assert status == 400
    text = " ".join(body["errors"])
    for where in ("latency", "stall", "drop", "nonsense"):
        assert where in text, text
    assert len(body["errors"]) >= 4
    assert await admin("GET", f"{server.admin_url}/admin/faults") == (200, {})  # unchanged


async def test_put_faults_not_json(server: RealtimeServer) -> None:
    status, body = await admin("PUT", f"{server.admin_url}/admin/faults", "not an object")
    assert status == 400
    assert body["errors"]


async def test_faults_switch_at_run_time_and_reset(server: RealtimeServer) -> None:
    assert await one_greeting(server) == "completed"
    doc = {"rate_limit": {"probability": 1.0}}
    status, body = await admin("PUT", f"{server.admin_url}/admin/faults", doc)
    assert status == 200
    assert body == {"rate_limit": {"probability": 1.0}}
    assert (await admin("GET", f"{server.admin_url}/admin/faults"))[1] == body
    assert await one_greeting(server) == "failed"
    assert (await admin("POST", f"{server.admin_url}/admin/reset"))[0] == 200
    assert (await admin("GET", f"{server.admin_url}/admin/faults"))[1] == {}
    _, stats = await admin("GET", f"{server.admin_url}/admin/stats")
    assert stats["sessions"] == []
    assert await one_greeting(server) == "completed"


async def test_stats_describe_sessions_and_responses(server: RealtimeServer) -> None:
    await one_greeting(server, model="gpt-realtime-mini")
    await admin("PUT", f"{server.admin_url}/admin/faults", {"legacy_beta": {}})
    await one_greeting(server, beta=True)
    _, stats = await admin("GET", f"{server.admin_url}/admin/stats")
    ga, beta = stats["sessions"]
    assert (ga["model"], ga["protocol"]) == ("gpt-realtime-mini", "ga")
    assert beta["protocol"] == "beta"
    assert ga["session_id"] != beta["session_id"]
    (response,) = ga["responses"]
    assert response["status"] == "completed"
    assert response["faults"] == []
    assert response["injected_latency_ms"] == 0
    assert 0 <= response["create_to_first_delta_ms"] < 100


async def test_metrics(server: RealtimeServer) -> None:
    await admin("PUT", f"{server.admin_url}/admin/faults", {"rate_limit": {"probability": 1.0}})
    await one_greeting(server)
    status, text = await admin("GET", f"{server.admin_url}/metrics")
    assert status == 200
    for name in (
        "callbench_realtime_sessions_active",
        "callbench_realtime_sessions_total",
        "callbench_realtime_responses_total",
        "callbench_realtime_faults_total",
        "callbench_realtime_rejections_total",
    ):
        assert name in text, name
    assert 'callbench_realtime_faults_total{kind="rate_limit"} 1.0' in text
    assert 'callbench_realtime_responses_total{status="failed"} 1.0' in text
