"""``BackendServer``: the mock voice backend assembled — the public app (calls, REST, webhooks)
on one port and the admin app on a loopback-only port, sharing one ``BackendState``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from mocks.backend import admin, calls_native, calls_twilio, rest, webhooks
from mocks.backend.calls import close_ws
from mocks.backend.config import BackendConfig
from mocks.backend.db import DbUnavailable
from mocks.backend.keys import STATE_KEY
from mocks.backend.metrics import BackendMetrics
from mocks.backend.state import BackendState

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
CLOSE_GOING_AWAY = 1001


def build_app(state: BackendState) -> web.Application:
    app = web.Application(middlewares=[rest.guard], client_max_size=1024**2)
    app[STATE_KEY] = state
    rest.add_routes(app)
    webhooks.add_routes(app)
    app.router.add_get("/ws/voice/{session_id}", calls_native.handle)
    app.router.add_get("/media-stream", calls_twilio.handle)

    async def going_away(_app: web.Application) -> None:
        await asyncio.gather(
            *(close_ws(ws, CLOSE_GOING_AWAY, "server shutting down") for ws in list(state.sockets))
        )

    app.on_shutdown.append(going_away)
    return app


def build_admin_app(state: BackendState) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    admin.add_routes(app)
    return app


def _port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("the server has no TCP address")


LAG_TICK_S = 0.05


async def watch_loop_lag(metrics: BackendMetrics, tick_s: float = LAG_TICK_S) -> None:
    """Observes, every ``tick_s``, how much later than asked the loop woke this task."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time() + tick_s
        await asyncio.sleep(tick_s)
        metrics.event_loop_lag_seconds.observe(max(0.0, loop.time() - asked))


class BackendServer:
    """The backend in this process: ``await start()``, then ``.url``/``.ws_url``/``.admin_url``."""

    def __init__(self, config: BackendConfig, *, clock: Callable[[], float] = time.monotonic):
        self.state = BackendState(config, clock=clock)
        self._runners: list[web.AppRunner] = []
        self._lag_watch: asyncio.Task[None] | None = None
        self.url = ""
        self.ws_url = ""
        self.admin_url = ""

    @property
    def config(self) -> BackendConfig:
        return self.state.config

    async def start(self, host: str = LOOPBACK, port: int = 0, admin_port: int = 0) -> None:
        try:
            # Open the pool (and the schema) now; a database that is down only delays readiness.
            with contextlib.suppress(DbUnavailable):
                await self.state.db.ensure_pool()
            main = web.AppRunner(build_app(self.state), shutdown_timeout=5.0, access_log=None)
            await main.setup()
            self._runners.append(main)
            await web.TCPSite(main, host, port).start()
            control = web.AppRunner(build_admin_app(self.state), access_log=None)
            await control.setup()
            self._runners.append(control)
            # The admin API changes the system under test: never reachable off this host.
            await web.TCPSite(control, LOOPBACK, admin_port).start()
            self._lag_watch = asyncio.create_task(watch_loop_lag(self.state.metrics))
        except BaseException:
            await self.close()
            raise
        shown = LOOPBACK if host in ("0.0.0.0", "", "::") else host
        self.url = f"http://{shown}:{_port(main)}"
        self.ws_url = f"ws://{shown}:{_port(main)}"
        self.admin_url = f"http://{LOOPBACK}:{_port(control)}"

    async def close(self) -> None:
        watch, self._lag_watch = self._lag_watch, None
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()
        await self.state.close()

    async def __aenter__(self) -> BackendServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
