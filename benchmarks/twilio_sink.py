"""Both ends of the calls benchmark that are not callbench.

`twilio_sink.py PORT`: a cheap Twilio Media Stream sink that behaves as a backend with server VAD
(Twilio's reference bridge to the OpenAI Realtime API, docs/protocol.md): it sends no greeting,
reads the end of the caller's turn from the stream itself — `END_OF_TURN_FRAMES` frames of line
silence after voiced ones — and then answers with one media frame and a mark. Everything else
(`connected`, `start`, the caller's mark echoes, `stop`) is discarded unread. It must cost the
other core as little as possible: a media frame costs a prefix test and a substring test, since
the payload of mu-law silence is one fixed base64 string.

`twilio_sink.py client URL CALLS SECONDS RAMP`: the plain peer, the floor a Python generator can
reach. CALLS bare `websockets` connections (opened evenly over RAMP seconds) each play a Twilio
caller as callbench's does (generator/protocols/twilio.py): `connected`, `start`, then one media
frame every 20 ms on one absolute schedule (generator/protocols/pacing.py) for the whole call —
SECONDS of speech, then silence until the answer has played, its mark echoed, and the line has
been quiet for callbench's default quiet gap — and `stop`. No metrics store, no events, no
classification: it prints `{"p99": ms, "frames": n, "failed": n}`, the lag of the speech frames
(what callbench's `send_lag` covers)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys
import time
from typing import cast

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.speedups import apply_mask

FRAME_S = 0.02
SILENCE = base64.b64encode(b"\xff" * 160).decode()  # 20 ms of mu-law silence (0xFF)
VOICE = base64.b64encode(bytes(range(160))).decode()  # the plain peer's speech: not silence
# Server VAD's end of turn: OpenAI's default silence_duration_ms (500 ms), longer than any pause
# inside callbench's synthetic speech (at most 120 ms).
END_OF_TURN_FRAMES = 25
# A media frame, however its sender spaces its JSON (callbench writes it without spaces).
MEDIA_PREFIXES = ('{"event":"media"', '{"event": "media"')
ANSWER = '{"event":"media","streamSid":"S","media":{"payload":"' + SILENCE + '"}}'
MARK = '{"event":"mark","streamSid":"S","mark":{"name":"reply"}}'
QUIET_GAP_S = 0.7  # callbench's default --quiet-gap: the answer is over after this much quiet
RESPONSE_TIMEOUT_S = 15.0  # callbench's default: a call not answered by then fails


MEDIA_PREFIXES_B = tuple(prefix.encode() for prefix in MEDIA_PREFIXES)
SILENCE_B = SILENCE.encode()


class TurnEnds:
    """One stream's server VAD: which media frame ends a caller's turn. Only media frames count;
    a frame is silence when its payload is exactly mu-law silence, voice otherwise."""

    __slots__ = ("quiet", "voiced")

    def __init__(self) -> None:
        self.voiced = False  # a voiced frame since the last end of turn
        self.quiet = 0  # silence frames since the last voiced one

    def ended(self, message: str | bytes) -> bool:
        """Whether ``message`` (a text message, decoded or as its UTF-8 bytes) is the frame
        that ends the caller's turn."""
        data = message.encode() if isinstance(message, str) else message
        if not data.startswith(MEDIA_PREFIXES_B):
            return False
        if SILENCE_B not in data:
            self.voiced, self.quiet = True, 0
            return False
        if not self.voiced:
            return False
        self.quiet += 1
        if self.quiet < END_OF_TURN_FRAMES:
            return False
        self.voiced = False
        return True


async def handle(ws: ServerConnection) -> None:
    turns = TurnEnds()
    async for message in ws:
        if isinstance(message, str) and turns.ended(message):
            await ws.send(ANSWER)
            await ws.send(MARK)


GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's, for Sec-WebSocket-Accept
MAX_HEAD = 16384  # a handshake longer than this is not a caller's


def server_frame(opcode: int, payload: bytes) -> bytes:
    """One final frame from the server (unmasked, as RFC 6455 has servers send)."""
    length = len(payload)
    if length < 126:
        head = bytes((0x80 | opcode, length))
    elif length < 65536:
        head = bytes((0x80 | opcode, 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + length.to_bytes(8, "big")
    return head + payload


ANSWER_FRAMES = server_frame(1, ANSWER.encode()) + server_frame(1, MARK.encode())


def accept_key(request: bytes) -> bytes | None:
    """The Sec-WebSocket-Accept for a handshake request's head (None: not a WebSocket one)."""
    for line in request.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            return base64.b64encode(hashlib.sha1(value.strip() + GUID).digest())
    return None


class SinkProtocol(asyncio.Protocol):
    """The sink on one connection: the handshake, then frames parsed straight from the bytes;
    each complete text message goes to `TurnEnds`, and the turn's end gets `ANSWER_FRAMES`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.turns = TurnEnds()
        self.parts: list[bytes] = []  # a fragmented message so far
        self.part_opcode = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's does not derive from asyncio.Transport: no isinstance)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    transport.close()
                return
            accept = accept_key(bytes(self.buffer[:end]))
            del self.buffer[: end + 4]
            if accept is None:
                transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                transport.close()
                return
            transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.upgraded = True
        self._frames(transport)

    def _frames(self, transport: asyncio.Transport) -> None:
        buffer, at = self.buffer, 0
        size = len(buffer)
        while size - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            length, pos = second & 0x7F, at + 2
            if length >= 126:
                width = 2 if length == 126 else 8
                if size - pos < width:
                    break
                length = int.from_bytes(buffer[pos : pos + width], "big")
                pos += width
            masked = second & 0x80
            if size - pos < length + (4 if masked else 0):
                break
            if masked:
                mask = bytes(buffer[pos : pos + 4])
                payload = apply_mask(bytes(buffer[pos + 4 : pos + 4 + length]), mask)
                pos += 4
            else:
                payload = bytes(buffer[pos : pos + length])
            at = pos + length
            self._message(transport, first, payload)
            if transport.is_closing():
                break
        del buffer[:at]

    def _message(self, transport: asyncio.Transport, first: int, payload: bytes) -> None:
        opcode, final = first & 0x0F, first & 0x80
        if opcode == 0x0:  # a continuation
            self.parts.append(payload)
            if not final:
                return
            opcode, payload, self.parts = self.part_opcode, b"".join(self.parts), []
        elif opcode in (0x1, 0x2) and not final:
            self.parts, self.part_opcode = [payload], opcode
            return
        if opcode == 0x1:
            if self.turns.ended(payload):
                transport.write(ANSWER_FRAMES)
        elif opcode == 0x8:  # close: echo its code, then hang up, as a server does
            transport.write(server_frame(0x8, payload[:2]))
            transport.close()
        elif opcode == 0x9:
            transport.write(server_frame(0xA, payload))


async def sink(port: int) -> None:
    loop = asyncio.get_running_loop()
    # Probes that open a TCP connection and close it (the generator's setup, the benchmark's
    # wait for the port) just end their protocol: nothing to log.
    server = await loop.create_server(SinkProtocol, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


async def _hear_answer(ws: ClientConnection, answered: asyncio.Future[float]) -> None:
    # The sink's answer is one media frame then its mark: the mark says the answer is all here.
    async for message in ws:
        if '"mark"' in str(message):
            answered.set_result(time.monotonic())
            return


async def caller(url: str, seconds: float, lags: list[float]) -> None:
    """One call: SECONDS of speech, silence until the answer has played and the line has been
    quiet for QUIET_GAP_S, then `stop`; RuntimeError if no answer came within
    RESPONSE_TIMEOUT_S of the speech's end."""
    ws: ClientConnection = await connect(url, compression=None, ping_interval=None, proxy=None)
    answered: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    reader = asyncio.create_task(_hear_answer(ws, answered))
    try:
        await ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        await ws.send('{"event":"start","sequenceNumber":"1","start":{},"streamSid":"S"}')
        media = (
            '{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d",'
            '"timestamp":"%d","payload":"%s"},"streamSid":"S"}'
        )
        echo = '{"event":"mark","sequenceNumber":"%d","mark":{"name":"reply"},"streamSid":"S"}'
        stop = '{"event":"stop","sequenceNumber":"%d","stop":{},"streamSid":"S"}'
        speech = round(seconds / FRAME_S)
        sequence, echoed = 1, False
        t0 = time.monotonic()
        hangup_at = t0 + speech * FRAME_S + RESPONSE_TIMEOUT_S
        k = 0
        while True:
            due = t0 + k * FRAME_S
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if due >= hangup_at:
                break
            sequence += 1
            if k < speech:
                await ws.send(media % (sequence, k + 1, k * 20, VOICE))
                lags.append(max(0.0, time.monotonic() - due))
            else:
                await ws.send(media % (sequence, k + 1, k * 20, SILENCE))
                if not echoed and answered.done() and due >= answered.result() + FRAME_S:
                    # The answer's one frame has played: echo its mark as Twilio does, and hang
                    # up once the line has been quiet as long as callbench waits.
                    sequence += 1
                    await ws.send(echo % sequence)
                    echoed, hangup_at = True, due + QUIET_GAP_S
            k += 1
        if not echoed:
            raise RuntimeError(f"no answer within {RESPONSE_TIMEOUT_S:g} s of the speech's end")
        sequence += 1
        await ws.send(stop % sequence)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
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
