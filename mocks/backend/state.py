"""What every part of one backend shares: the live config, metrics, database, the HTTP client
for the upstream, the seeded RNG, admission control, and the deliberate leaks (kept here, on the
app, so they outlive the calls that made them — which is the bug they model)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from mocks.backend.config import BackendConfig
from mocks.backend.db import Database
from mocks.backend.metrics import BackendMetrics
from mocks.backend.ratelimit import SlidingWindowLimiter


class Admission:
    """At most ``max_sessions`` calls at once (0 = unlimited); up to ``admission_queue`` more may
    wait for a slot, in arrival order; beyond that a call is turned away at once."""

    def __init__(self) -> None:
        self.active = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    async def acquire(self, max_sessions: int, queue: int) -> bool:
        if max_sessions == 0 or (self.active < max_sessions and not self.waiting):
            self.active += 1
            return True
        if self.waiting >= queue:
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(max_sessions)  # the slot was handed over just as we gave up
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
        return True

    def release(self, max_sessions: int) -> None:
        self.active -= 1
        while self._waiters and (max_sessions == 0 or self.active < max_sessions):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.active += 1  # the slot passes straight to the waiter
                waiter.set_result(None)


@dataclass
class Leaks:
    """Memory and sockets the leak knobs keep forever (until ``POST /admin/reset``)."""

    transcripts: list[Any] = field(default_factory=list)
    upstream_sockets: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)

    async def clear(self) -> None:
        self.transcripts.clear()
        sockets, self.upstream_sockets = self.upstream_sockets, []
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()


class BackendState:
    """The one object handlers reach through the app; ``config`` changes at run time."""

    def __init__(
        self,
        config: BackendConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.initial_config = config
        self.clock = clock
        self.metrics = BackendMetrics()
        self.db = Database(config, self.metrics)
        self.rng = random.Random(config.seed)
        self.admission = Admission()
        self.leaks = Leaks()
        self.limiter = SlidingWindowLimiter(clock)
        self.http: aiohttp.ClientSession | None = None
        # Callers' sockets, closed with 1001 when the server shuts down.
        self.sockets: set[web.WebSocketResponse] = set()

    def client(self) -> aiohttp.ClientSession:
        if self.http is None or self.http.closed:
            # No connector cap: aiohttp's default of 100 would silently queue the 101st call's
            # upstream session until it timed out. Admission control (max_sessions) is the cap.
            self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self.http

    async def apply(self, config: BackendConfig) -> None:
        """Adopt a new config: the pool is rebuilt if a pool knob changed, the RNG reseeded."""
        old, self.config = self.config, config
        if config.seed != old.seed:
            self.rng = random.Random(config.seed)
        await self.db.reconfigure(config)

    async def reset(self) -> None:
        """Back to the start-up config, leaks freed, rate limits and RNG fresh."""
        await self.apply(self.initial_config)
        self.rng = random.Random(self.config.seed)
        await self.leaks.clear()
        await self.db.release_leaks()
        self.limiter.reset()

    async def close(self) -> None:
        await self.leaks.clear()
        await self.db.close()
        if self.http is not None:
            await self.http.close()
