"""Real-time pacing against a real local WebSocket sink: frames go out on an absolute 20 ms
schedule, with a small send lag, and a late frame does not shift the ones after it."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection

from generator.protocols.pacing import FRAME_S, send_paced
from tests.generator.protocols.call_fakes import ws_server

FRAMES = 100


async def _run(delay_frame: int | None = None) -> tuple[float, list[float], list[float], float]:
    """Send 100 frames; returns t0, the per-frame lags, the sink's arrival times, the end."""
    arrivals: list[float] = []
    done = asyncio.Event()

    async def sink(ws: ServerConnection) -> None:
        async for _ in ws:
            arrivals.append(time.monotonic())
            if len(arrivals) == FRAMES:
                done.set()

    lags: list[float] = []
    async with ws_server(sink) as url, connect(url, compression=None, proxy=None) as client:

        async def send(k: int, frame: bytes, _due: float) -> None:
            if k == delay_frame:
                await asyncio.sleep(0.1)  # a hiccup of the generator, not a wait for readiness
            await client.send(frame)

        frames = [bytes(960)] * FRAMES
        t0 = await send_paced(frames, send, clock=time.monotonic, on_lag=lags.append)
        end = time.monotonic()
        async with asyncio.timeout(5):
            await done.wait()
    return t0, lags, arrivals, end


@pytest.mark.timing
async def test_send_lag_is_small_and_schedule_does_not_drift() -> None:
    t0, lags, arrivals, end = await _run()
    assert len(lags) == FRAMES
    # Two busy cores shared by several test runs: typical lag stays at a few ms.
    assert statistics.median(lags) < 0.005, lags
    assert all(lag >= 0 for lag in lags)
    # No drift: the last frame goes out at its absolute time, not 100 accumulated delays later.
    last_due = t0 + (FRAMES - 1) * FRAME_S
    assert last_due <= end < last_due + 0.03
    offsets = [a - t0 - k * FRAME_S for k, a in enumerate(arrivals)]
    assert statistics.median(offsets) < 0.005
    assert offsets[-1] < 0.03


async def test_a_late_frame_is_caught_up_not_carried_forward() -> None:
    t0, lags, _arrivals, end = await _run(delay_frame=10)
    assert lags[10] >= 0.09  # the hiccup is measured...
    assert lags[11] >= 0.06  # ...the frames due during it go out at once...
    assert statistics.median(lags[20:]) < 0.005  # ...and the schedule is back on time
    assert end < t0 + (FRAMES - 1) * FRAME_S + 0.03
