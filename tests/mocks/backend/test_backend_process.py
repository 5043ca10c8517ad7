"""The backend as a process (`python -m mocks.backend`): ready line, and a graceful SIGTERM that
closes live calls with 1001 and exits 0."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from bench.stack.postgres import PostgresInfo
from tests.mocks.backend.backend_helpers import backend_process

pytestmark = pytest.mark.timeout(60)


async def test_sigterm_closes_calls_and_exits_0(postgres: PostgresInfo, upstream: Any) -> None:
    sets = [f"db_dsn={postgres.dsn}", f"upstream_url={upstream.url}", "db_pool_min=1"]
    async with backend_process(*sets) as backend, aiohttp.ClientSession() as http:
        async with http.get(f"{backend.url}/health/ready") as r:
            assert r.status == 200
        ws = await http.ws_connect(f"{backend.ws_url}/ws/voice/sigterm-1")
        first = await ws.receive(timeout=20)
        assert json.loads(first.data)["type"] == "session.ready"
        backend.proc.terminate()
        while True:
            message = await ws.receive(timeout=20)
            if message.type != aiohttp.WSMsgType.TEXT:
                break
        assert ws.close_code == 1001
        await ws.close()
        assert await asyncio.wait_for(backend.proc.wait(), timeout=20) == 0
