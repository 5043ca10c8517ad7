"""A stand-in for `callbench mock realtime|backend` that accepts the same flags and serves the
health and /metrics endpoints on both ports: it lets the runtime's own machinery (ports, readiness,
stack.json, teardown, Prometheus scraping) be tested apart from the real mocks. `--fail` makes it
exit at once with status 2, like a mock rejecting its configuration, and so does a ``--faults``
file it cannot read."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from aiohttp import web


async def _ok(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _metrics(_: web.Request) -> web.Response:
    return web.Response(text="# TYPE callbench_fake_up gauge\ncallbench_fake_up 1\n")


async def _serve(host: str, ports: list[int]) -> None:
    app = web.Application()
    app.router.add_get("/health", _ok)
    app.router.add_get("/health/ready", _ok)
    app.router.add_get("/metrics", _metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    for port in ports:
        await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mock", choices=["mock"])
    parser.add_argument("which", choices=["realtime", "backend"])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    for flag in ("--seed", "--upstream-url", "--db-dsn", "--faults"):
        parser.add_argument(flag)
    parser.add_argument("--greeting-ms", type=int)
    parser.add_argument("--answer-ms", type=int)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args(argv)
    print(f"fake {args.which}: {vars(args)}", flush=True)
    if args.faults is not None:  # read as the real mock does: a relative path meets its cwd
        try:
            with open(args.faults) as faults:
                print(f"fake {args.which}: faults {faults.read().strip()}", flush=True)
        except OSError as exc:
            print(f"fake {args.which}: cannot read --faults: {exc}", flush=True)
            return 2
    if "fail=1" in args.set:
        print("fake backend: refusing to start (fail=1)", flush=True)
        return 2
    asyncio.run(_serve(args.host, [args.port, args.admin_port]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
