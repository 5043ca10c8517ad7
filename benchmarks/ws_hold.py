"""Two things for the idle-connections benchmark. `ws_hold.py server PORT`: a websockets server
that accepts and holds. `ws_hold.py client URL N SECONDS`: the plain-`websockets` peer, which
opens N connections, holds them, and prints its RSS
before and while holding."""

from __future__ import annotations

import asyncio
import resource
import sys

import psutil
import uvloop
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve


async def hold(ws: ServerConnection) -> None:
    await ws.wait_closed()


async def server(port: int) -> None:
    async with serve(hold, "127.0.0.1", port, compression=None, ping_interval=None, backlog=4096):
        await asyncio.Future()


async def client(url: str, count: int, seconds: float) -> None:
    before = psutil.Process().memory_info().rss
    sem = asyncio.Semaphore(200)

    async def one(i: int) -> object:
        async with sem:
            return await connect(url, compression=None, ping_interval=None, open_timeout=60)

    conns = await asyncio.gather(*(one(i) for i in range(count)))
    await asyncio.sleep(seconds)
    during = psutil.Process().memory_info().rss
    print(f"{before} {during} {len(conns)}")
    await asyncio.gather(*(c.close() for c in conns))  # type: ignore[attr-defined]


if __name__ == "__main__":
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(20000, hard), hard))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        if sys.argv[1] == "server":
            runner.run(server(int(sys.argv[2])))
        else:
            runner.run(client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
