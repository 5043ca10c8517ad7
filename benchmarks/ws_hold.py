"""Both ends of the idle-connections benchmark that are not callbench.

`ws_hold.py PORT`: a websockets server that accepts and holds, sending nothing.
`ws_hold.py client URL N SECONDS`: the plain-`websockets` peer, which opens N connections (200
handshakes in flight at most), holds them SECONDS, closes them, and prints its RSS before
connecting and while holding. The benchmark itself samples RSS from outside
(benchmarks/realtime.py), as it does for callbench."""

from __future__ import annotations

import asyncio
import logging
import resource
import sys

import psutil
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve


async def hold(ws: ServerConnection) -> None:
    await ws.wait_closed()


async def server(port: int) -> None:
    # The benchmark's and the generator's port probes close without a handshake: not errors
    # worth a traceback each.
    logging.getLogger("websockets.server").setLevel(logging.CRITICAL)
    async with serve(hold, "127.0.0.1", port, compression=None, ping_interval=None, backlog=4096):
        await asyncio.Future()


async def client(url: str, count: int, seconds: float) -> None:
    before = psutil.Process().memory_info().rss
    sem = asyncio.Semaphore(200)

    async def one() -> ClientConnection:
        async with sem:
            return await connect(url, compression=None, ping_interval=None, open_timeout=60)

    conns = await asyncio.gather(*(one() for _ in range(count)))
    await asyncio.sleep(seconds)
    during = psutil.Process().memory_info().rss
    print(f"{before} {during} {len(conns)}")
    await asyncio.gather(*(c.close() for c in conns))


if __name__ == "__main__":
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(20000, hard), hard))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        if sys.argv[1] == "client":
            runner.run(client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
        else:
            runner.run(server(int(sys.argv[1])))
