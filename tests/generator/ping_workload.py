"""A small real workload for the engine's tests: each iteration GETs a local aiohttp server and
records what a call workload records (calls_total, call_success, errors_total, a latency trend).
Also runnable as a script (the Ctrl-C test runs it in a subprocess)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from generator.errors import TargetUnreachable
from generator.workloads.base import IterationContext


class PingWorkload:
    def __init__(self, url: str, name: str = "ping") -> None:
        self.url = url
        self.name = name
        self._session: aiohttp.ClientSession | None = None

    async def setup(self) -> None:
        self._session = aiohttp.ClientSession()
        try:
            async with self._session.get(self.url + "/health") as response:
                await response.read()
        except aiohttp.ClientError as exc:
            await self._session.close()
            raise TargetUnreachable(f"{self.url}: {exc}") from None

    async def iteration(self, ctx: IterationContext) -> None:
        assert self._session is not None
        tags = {"workload": self.name}
        ok = False
        try:
            async with self._session.get(self.url + "/work") as response:
                await response.read()
                ok = response.status == 200
                if not ok:
                    ctx.store.add_counter(
                        "errors_total", 1, {**tags, "kind": f"http_{response.status}"}
                    )
        except aiohttp.ClientError:
            ctx.store.add_counter("errors_total", 1, {**tags, "kind": "refused"})
        ctx.store.add_trend("turn_latency", (time.monotonic() - ctx.intended_start) * 1000, tags)
        outcome = "succeeded" if ok else "failed"
        ctx.store.add_counter("calls_total", 1, {**tags, "outcome": outcome})
        ctx.store.add_rate("call_success", ok, tags)

    async def teardown(self) -> None:
        if self._session is not None:
            await self._session.close()


def make_app(delay_s: float, fail_every: int = 0) -> web.Application:
    hits = 0

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def work(_: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        mine = hits
        await asyncio.sleep(delay_s)
        if fail_every and mine % fail_every == 0:
            return web.Response(status=503)
        return web.Response(text="done")

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/work", work)
    return app


async def start_server(delay_s: float, fail_every: int = 0) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(make_app(delay_s, fail_every))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def _main(url: str, out: str) -> int:
    from generator.options import RunOptions
    from generator.runner import Runner
    from generator.scenario import scenario_from_dict

    scenario = scenario_from_dict(
        {
            "name": "sigint",
            "workloads": {
                "ping": {
                    "type": "calls",
                    "load": {"executor": "constant-vus", "vus": 2, "duration": "60s"},
                }
            },
            "thresholds": ["call_success:rate>=0.9"],
        }
    )
    outcome = await Runner(scenario, RunOptions(Path(out)), {"ping": PingWorkload(url)}).run()
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(sys.argv[1], sys.argv[2])))
