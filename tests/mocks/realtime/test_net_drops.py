"""Over real sockets: drops (close 1011 and TCP reset), a stall ended by ``response.cancel``,
slow audio measured by the client, the beta protocol by header, and faults switched at run time
through the admin port, each checked against ``/admin/stats``."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mocks.realtime.server import RealtimeServer
from tests.mocks.realtime.test_net_robustness import MANUAL, next_event, until


async def admin(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body) as reply:
        return reply.status, await reply.json()


async def dropped_close(server: RealtimeServer) -> tuple[int | None, int]:
    deltas = 0
    async with connect(server.url) as ws:
        await until(ws, "session.created")
        await ws.send(json.dumps(MANUAL))
        await ws.send(json.dumps({"type": "response.create"}))
        try:
            while True:
                event = await next_event(ws)
                deltas += event["type"] == "response.output_audio.delta"
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), deltas


@pytest.mark.parametrize(("mode", "code"), [("close_1011", 1011), ("reset", None)])
async def test_drop_mid_response(mode: str, code: int | None) -> None:
    faults = {"drop": {"probability": 1.0, "mode": mode}}
    async with RealtimeServer(faults, greeting_ms=400, answer_ms=400) as server:
        got_code, deltas = await dropped_close(server)
        assert got_code == code
        assert 1 <= deltas <= 8
        _, stats = await admin("GET", f"{server.admin_url}/admin/stats")
        (response,) = stats["sessions"][0]["responses"]
        assert response["status"] == "dropped"
        assert response["faults"] == ["drop"]


async def test_stall_until_cancel() -> None:
    async with (
        RealtimeServer({"stall": {"probability": 1.0}}) as server,
        connect(server.url) as ws,
    ):
        await until(ws, "session.created")
        await ws.send(json.dumps(MANUAL))
        await until(ws, "session.updated")
        await ws.send(json.dumps({"type": "response.create"}))
        await until(ws, "rate_limits.updated")  # right after response.created
        with pytest.raises(TimeoutError):
            await next_event(ws, within_s=0.3)  # the response never comes
        await ws.send(json.dumps({"type": "response.cancel"}))
        done = (await until(ws, "response.done"))[-1]
        assert done["response"]["status"] == "cancelled"


async def test_slow_audio_is_slower_than_real_time_at_the_client() -> None:
    faults = {"slow_audio": {"probability": 1.0, "factor": 3.0}}
    arrivals: list[float] = []
    async with (
        RealtimeServer(faults, greeting_ms=200, chunk_ms=50) as server,
        connect(server.url) as ws,
    ):
        await ws.send(json.dumps(MANUAL))
        await ws.send(json.dumps({"type": "response.create"}))
        async with asyncio.timeout(5):
            while (event := await next_event(ws))["type"] != "response.done":
                if event["type"] == "response.output_audio.delta":
                    arrivals.append(time.monotonic())
    assert len(arrivals) == 4
    # 4 chunks of 50 ms: 150 ms apart at real time, 450 ms at factor 3.
    assert arrivals[-1] - arrivals[0] >= 0.40


async def test_beta_header_selects_beta_event_names_when_the_knob_serves_it() -> None:
    async with RealtimeServer({"legacy_beta": {}}, greeting_ms=100) as server:
        headers = {"OpenAI-Beta": "realtime=v1"}
        async with connect(server.url, additional_headers=headers) as ws:
            created = await next_event(ws)
            assert created["session"]["input_audio_format"] == "pcm16"
            await ws.send(
                json.dumps({"type": "session.update", "session": {"turn_detection": None}})
            )
            await ws.send(json.dumps({"type": "response.create"}))
            kinds = [e["type"] for e in await until(ws, "response.done")]
    assert "response.audio.delta" in kinds
    assert "response.output_audio.delta" not in kinds


async def test_faults_switched_at_run_time_apply_to_the_next_response() -> None:
    async with RealtimeServer(greeting_ms=100) as server:
        async with connect(server.url) as ws:
            await ws.send(json.dumps(MANUAL))
            await ws.send(json.dumps({"type": "response.create"}))
            first = (await until(ws, "response.done"))[-1]
            status, _ = await admin(
                "PUT", f"{server.admin_url}/admin/faults", {"rate_limit": {"probability": 1.0}}
            )
            assert status == 200
            await ws.send(json.dumps({"type": "response.create"}))
            second = await until(ws, "response.done")
        assert first["response"]["status"] == "completed"
        assert second[-1]["response"]["status"] == "failed"
        assert any(e["type"] == "error" for e in second)
        status, body = await admin("PUT", f"{server.admin_url}/admin/faults", {"stall": 3})
        assert status == 400
        assert body["errors"]
        status, _ = await admin("POST", f"{server.admin_url}/admin/reset")
        _, faults = await admin("GET", f"{server.admin_url}/admin/faults")
        _, stats = await admin("GET", f"{server.admin_url}/admin/stats")
        assert (status, faults, stats["sessions"]) == (200, {}, [])
