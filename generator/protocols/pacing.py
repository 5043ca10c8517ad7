"""Sending audio at the pace a phone line would: frame k is due at t0 + k × 20 ms.

The schedule is absolute, so a late frame does not push the ones after it (no drift); a frame
that is late is sent at once, and how late it went out (`send_lag`) is reported per frame. A
generator that cannot keep this schedule is measuring itself, not the target, and the lag says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from generator.audio import FRAME_MS
from generator.protocols.base import Clock, LagSink

T = TypeVar("T")

FRAME_S = FRAME_MS / 1000.0


async def send_paced(
    frames: Sequence[T],
    send: Callable[[int, T, float], Awaitable[None]],
    *,
    clock: Clock,
    on_lag: LagSink,
    frame_s: float = FRAME_S,
) -> float:
    """Call ``send(k, frame, due)`` for each frame at its due time; returns t0.

    The lag is taken once ``send`` has returned: a frame is sent when the transport took it, and
    a send that waits on a full buffer is the generator (or the target) falling behind.
    """
    t0 = clock()
    for k, frame in enumerate(frames):
        due = t0 + k * frame_s
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(k, frame, due)
        on_lag(max(0.0, clock() - due))
    return t0


__all__ = ["FRAME_S", "send_paced"]
