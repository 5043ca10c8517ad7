"""`callbench connections` against the real mock backend (and the fake Realtime upstream behind
it): 50 held call connections all succeed with ws_connecting reported; at the backend's session
cap a call-request burst is turned away (1013) and counted as rejected."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from bench.stack.postgres import PostgresInfo
from tests.generator.workloads.backend_support import backend, postgres
from tests.generator.workloads.cli_support import callbench


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresInfo]:
    with postgres() as info:
        yield info


@pytest.fixture
async def upstream() -> AsyncIterator[Any]:
    from mocks.realtime.server import RealtimeServer

    server = RealtimeServer(seed=0, greeting_ms=300, answer_ms=300)
    await server.start(host="127.0.0.1", port=0, admin_port=0)
    try:
        yield server
    finally:
        await server.close()


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_fifty_held_connections_succeed(
    pg: PostgresInfo, upstream: Any, tmp_path: Path
) -> None:
    async with backend(pg, upstream_url=upstream.url) as server:
        result = await callbench(
            "connections", "--url", server.ws_url + "/ws/voice", "--target", "50",
            "--ramp", "2s", "--hold", "2-3", "--out", str(tmp_path / "run"), "--json",
        )  # fmt: skip
    assert result.code == 0, result.stderr
    summary = result.summary()
    sessions = summary["counters"]["ws_sessions"]
    assert sessions >= 50
    assert summary["rates"]["ws_success"] == 1.0
    assert summary["metrics"]["ws_connecting"]["count"] == sessions
    assert summary["errors"] == {}


@pytest.mark.timeout(60)
async def test_a_burst_at_the_session_cap_is_rejected(
    pg: PostgresInfo, upstream: Any, tmp_path: Path
) -> None:
    async with (
        backend(pg, upstream_url=upstream.url, max_sessions=1) as server,
        connect(server.ws_url + "/ws/voice/holder", compression=None) as holder,
    ):
        async for message in holder:  # the one session the cap allows is now taken
            if isinstance(message, str) and json.loads(message)["type"] == "session.ready":
                break
        result = await callbench(
            "connections", "--url", server.ws_url + "/ws/voice/{id}", "--rate", "5",
            "--duration", "1s", "--out", str(tmp_path / "run"), "--json",
        )  # fmt: skip
    assert result.code == 1, result.stderr
    summary = result.summary()
    assert summary["counters"]["call_requests_total"] == 5
    assert summary["errors"] == {"server_capacity": 5}
    assert summary["rates"]["call_accepted"] == 0
