"""A cheap Twilio Media Stream sink for the calls benchmark: accepts the stream, answers the
start with a short greeting (media then a mark) and each `end_of_utterance` mark with a short
answer, and discards everything else. No logic beyond that — it must cost the other core as
little as possible. Usage: twilio_sink.py PORT"""

from __future__ import annotations

import asyncio
import base64
import sys

import uvloop
from websockets.asyncio.server import ServerConnection, serve

PAYLOAD = base64.b64encode(b"\xff" * 160).decode()
MEDIA = '{"event":"media","streamSid":"S","media":{"payload":"' + PAYLOAD + '"}}'
MARK = '{"event":"mark","streamSid":"S","mark":{"name":"reply"}}'


async def handle(ws: ServerConnection) -> None:
    async for message in ws:
        if isinstance(message, bytes):
            continue
        if '"event":"start"' in message or '"name":"end_of_utterance"' in message:
            await ws.send(MEDIA)
            await ws.send(MARK)


async def main(port: int) -> None:
    async with serve(handle, "127.0.0.1", port, compression=None, max_queue=None):
        await asyncio.Future()


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(int(sys.argv[1])))
