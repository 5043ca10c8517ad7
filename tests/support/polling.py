"""Waiting for a condition with a deadline instead of ``sleep(n)``: poll until it holds, fail
the test (AssertionError naming what was awaited) when the deadline passes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def poll_until(
    predicate: Callable[[], bool],
    timeout_s: float = 10.0,
    *,
    interval_s: float = 0.01,
    what: str = "condition",
) -> None:
    """Block until ``predicate()`` is true; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s} s")
        time.sleep(interval_s)


async def wait_until(
    predicate: Callable[[], bool],
    timeout_s: float = 10.0,
    *,
    interval_s: float = 0.01,
    what: str = "condition",
) -> None:
    """``poll_until`` for a coroutine: the event loop runs between the polls."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s} s")
        await asyncio.sleep(interval_s)
