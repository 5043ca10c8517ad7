"""The transcript leak for real: a backend process (so the test's own memory does not count)
whose RSS grows with the number of calls while ``leak_transcripts`` is on, and comes back near its
baseline when it is off."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from bench.stack.postgres import PostgresInfo
from tests.mocks.backend.backend_helpers import BackendProcess, backend_process, native_call, poll

pytestmark = pytest.mark.timeout(120)

FRAMES_PER_TURN = 100  # 2 s of caller audio per turn: a realistic utterance


async def _calls(backend: BackendProcess, prefix: str, count: int, concurrency: int = 10) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            result = await native_call(
                backend.ws_url, f"{prefix}-{i}", turns=2, utterance_frames=FRAMES_PER_TURN
            )
            assert result.ok, result.error

    await asyncio.gather(*(one(i) for i in range(count)))


async def _settled_rss(backend: BackendProcess) -> float:
    """RSS once the calls have wound down (no active call left), after a short cooldown."""

    async def idle() -> bool:
        async with aiohttp.ClientSession() as http, http.get(f"{backend.url}/healthz") as r:
            return int((await r.json())["activeCalls"]) == 0

    await poll(idle, 20, "no active calls")
    await asyncio.sleep(0.5)  # cooldown: let freed buffers go back before measuring
    return await backend.rss_mb()


async def _run(postgres: PostgresInfo, upstream: Any, leak: bool) -> list[float]:
    sets = [f"db_dsn={postgres.dsn}", f"upstream_url={upstream.url}", "db_pool_min=1"]
    sets.append(f"leak_transcripts={'true' if leak else 'false'}")
    async with backend_process(*sets) as backend:
        await _calls(backend, "warm", 10)  # imports, caches, pool: not the leak
        readings = [await _settled_rss(backend)]
        for phase in range(2):
            await _calls(backend, f"leak{leak}-{phase}", 25)
            readings.append(await _settled_rss(backend))
        return readings


async def test_rss_grows_with_calls_when_transcripts_leak(
    postgres: PostgresInfo, upstream: Any
) -> None:
    baseline, after_25, after_50 = await _run(postgres, upstream, leak=True)
    # Each call keeps ~0.5 MB (its audio in and out, raw and as received, and its words).
    assert after_25 - baseline > 6, (baseline, after_25, after_50)
    assert after_50 - after_25 > 6, (baseline, after_25, after_50)


async def test_rss_returns_near_baseline_without_the_leak(
    postgres: PostgresInfo, upstream: Any
) -> None:
    baseline, after_25, after_50 = await _run(postgres, upstream, leak=False)
    assert after_50 <= baseline * 1.2, (baseline, after_25, after_50)
