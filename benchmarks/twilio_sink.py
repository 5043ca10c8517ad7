"""Both ends of the calls benchmark that are not callbench.

`twilio_sink.py PORT`: a cheap Twilio Media Stream sink. It accepts the stream, answers the start
with a short greeting (media then a mark) and each `end_of_utterance` mark with a short answer,
and discards everything else — it must cost the other core as little as possible.

`twilio_sink.py client URL CALLS SECONDS RAMP`: the plain peer, the floor a Python generator can
reach. CALLS bare `websockets` connections (opened evenly over RAMP seconds) each play a Twilio
caller: `connected`, `start`, wait for the greeting, then SECONDS of prebuilt media frames on the
same absolute 20 ms schedule as callbench (generator/protocols/pacing.py). No metrics store, no
events, no classification: it prints `{"p99": ms, "frames": n, "failed": n}`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import sys
import time

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

PAYLOAD = base64.b64encode(b"\xff" * 160).decode()
MEDIA = '{"event":"media","streamSid":"S","media":{"payload":"' + PAYLOAD + '"}}'
MARK = '{"event":"mark","streamSid":"S","mark":{"name":"reply"}}'
FRAME_S = 0.02


def answers(message: str) -> bool:
    """Whether a client message asks for an answer: the start, or the caller's end of speech.
    Media frames are 99 % of the traffic and are told apart by their prefix, without parsing;
    the rest are parsed, since a client may put spaces after its colons."""
    if message.startswith('{"event":"media"'):
        return False
    with contextlib.suppress(ValueError, AttributeError):
        event = json.loads(message)
        kind = event.get("event")
        return bool(
            kind == "start"
            or (kind == "mark" and (event.get("mark") or {}).get("name") == "end_of_utterance")
        )
    return False


async def handle(ws: ServerConnection) -> None:
    async for message in ws:
        if isinstance(message, str) and answers(message):
            await ws.send(MEDIA)
            await ws.send(MARK)


async def sink(port: int) -> None:
    # Probes that open a TCP connection and close it (the generator's setup, the benchmark's
    # wait for the port) are not errors worth a traceback each.
    logging.getLogger("websockets.server").setLevel(logging.CRITICAL)
    async with serve(
        handle, "127.0.0.1", port, compression=None, max_queue=None, ping_interval=None,
        backlog=4096,
    ):  # fmt: skip
        await asyncio.Future()


async def caller(url: str, seconds: float, lags: list[float]) -> None:
    ws: ClientConnection = await connect(url, compression=None, ping_interval=None, proxy=None)
    try:
        await ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        await ws.send('{"event":"start","sequenceNumber":"1","start":{},"streamSid":"S"}')
        while '"mark"' not in str(await ws.recv()):
            pass
        media = (
            '{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d",'
            '"timestamp":"%d","payload":"' + PAYLOAD + '"},"streamSid":"S"}'
        )
        t0 = time.monotonic()
        for k in range(round(seconds / FRAME_S)):
            due = t0 + k * FRAME_S
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(media % (k + 2, k + 1, k * 20))
            lags.append(max(0.0, time.monotonic() - due))
    finally:
        await ws.close()


async def client(url: str, calls: int, seconds: float, ramp: float) -> None:
    lags: list[float] = []

    async def one(i: int) -> None:
        await asyncio.sleep(ramp * i / calls)
        await caller(url, seconds, lags)

    results = await asyncio.gather(*(one(i) for i in range(calls)), return_exceptions=True)
    failed = sum(isinstance(r, BaseException) for r in results)
    lags.sort()
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000 if lags else float("nan")
    print(json.dumps({"p99": p99, "frames": len(lags), "failed": failed}))


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        if sys.argv[1] == "client":
            url, calls, seconds, ramp = sys.argv[2:6]
            runner.run(client(url, int(calls), float(seconds), float(ramp)))
        else:
            runner.run(sink(int(sys.argv[1])))
