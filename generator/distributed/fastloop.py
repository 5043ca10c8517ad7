"""The event loop the CLI's runs use: uvloop when it is installed, asyncio's own otherwise.

uvloop's loop does the socket and timer work in C (libuv); the generator's hot paths — many
sockets, a timer per 20 ms frame per call — spend less CPU per event on it. It is chosen through
``asyncio.Runner(loop_factory=...)`` (Python 3.11+), never through the event-loop policy, which
newer Pythons deprecate. CALLBENCH_UVLOOP=0 turns it off (to compare, or to rule it out).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if os.environ.get("CALLBENCH_UVLOOP", "1") == "0":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the fastest loop available."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)
