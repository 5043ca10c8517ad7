"""The plain-aiohttp peer: C connections' worth of tasks GETting one URL in a loop for D seconds
on uvloop; prints requests/s. Usage: aiohttp_loop.py URL CONNECTIONS SECONDS"""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp
import uvloop


async def main(url: str, connections: int, seconds: float) -> None:
    done = 0
    end = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < end:
                async with session.get(url) as response:
                    await response.read()
                done += 1

        start = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(connections)))
        print(f"{done / (time.monotonic() - start):.1f}")


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
