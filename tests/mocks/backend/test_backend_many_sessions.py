"""More concurrent calls than an HTTP client's default connection cap (aiohttp's is 100): every
call still gets its own upstream session at once. Only admission control may cap sessions."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.mocks.backend.backend_helpers import BackendFactory, metric_value

CALLS = 120


async def until_ready(ws: ClientConnection) -> None:
    async for message in ws:
        if isinstance(message, str) and json.loads(message)["type"] == "session.ready":
            return
    raise AssertionError("closed before session.ready")


@pytest.mark.timeout(90)
async def test_more_calls_than_a_client_pool_all_reach_the_upstream(
    make_backend: BackendFactory, upstream: Any
) -> None:
    backend = await make_backend(upstream_url=upstream.url, max_sessions=0)
    async with contextlib.AsyncExitStack() as stack:
        calls = [
            await stack.enter_async_context(
                connect(f"{backend.ws_url}/ws/voice/many-{i}", compression=None)
            )
            for i in range(CALLS)
        ]
        # Held open together: a hidden cap would leave the calls above it waiting until the
        # backend's upstream timeout (10 s), so ready within 8 s means none was queued.
        await asyncio.wait_for(asyncio.gather(*(until_ready(ws) for ws in calls)), 8)
        active = await metric_value(
            f"{upstream.admin_url}/metrics", "callbench_realtime_sessions_active"
        )
        assert active == CALLS
