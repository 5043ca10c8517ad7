"""Helpers for the protocol clients' tests: a scriptable WebSocket server on 127.0.0.1:0."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

Handler = Callable[[ServerConnection], Awaitable[None]]


@contextlib.asynccontextmanager
async def ws_server(handler: Handler, **kwargs: Any) -> AsyncIterator[str]:
    """A WebSocket server running ``handler`` per connection; yields its ws:// URL."""
    async with serve(handler, "127.0.0.1", 0, compression=None, **kwargs) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def _delta(ms: int) -> str:
    audio = base64.b64encode(bytes(48 * ms)).decode("ascii")  # PCM16 24 kHz: 48 bytes a ms
    return json.dumps({"type": "response.output_audio.delta", "delta": audio})


async def _speak(ws: ServerConnection, chunks: int = 3, chunk_ms: int = 20) -> None:
    for _ in range(chunks):
        await ws.send(_delta(chunk_ms))
    await ws.send(json.dumps({"type": "response.done", "response": {"status": "completed"}}))


def fake_realtime(
    turn: str = "answer", seen: list[dict[str, Any]] | None = None, *, greet: bool = True
) -> Handler:
    """A scripted Realtime upstream: greets on the first `response.create` (unless ``greet``
    is off: then it never speaks); on later ones does ``turn``: `answer`, `stall` (never
    answers), `error` (an error event), `close_1013`, `function_call` (a function call first,
    the spoken answer after its output)."""

    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "session.created", "session": {}}))
        responses = 0
        async for message in ws:
            event = json.loads(message)
            if seen is not None:
                seen.append(event)
            if event["type"] != "response.create":
                continue
            responses += 1
            if responses == 1 and not greet:
                continue
            if responses == 1 or turn == "answer":
                await _speak(ws)
            elif turn == "error":
                error = {"type": "server_error", "code": "boom", "message": "it broke"}
                await ws.send(json.dumps({"type": "error", "error": error}))
            elif turn == "close_1013":
                await ws.close(1013, "try again later")
            elif turn == "function_call" and responses == 2:
                call = {
                    "type": "response.function_call_arguments.done",
                    "call_id": "call_1",
                    "name": "check_availability",
                    "arguments": json.dumps({"date": "2025-01-02", "service": "cleaning"}),
                }
                await ws.send(json.dumps(call))
                await ws.send(json.dumps({"type": "response.done", "response": {}}))
            elif turn == "function_call":
                await _speak(ws)
            # "stall": say nothing

    return handler


def fake_native(seen: list[str | bytes]) -> Handler:
    """A scripted native backend: ready + greeting at once, an answer (after a tool notice) per
    `end_of_utterance`, `hangup` answered and closed 1000. Records every frame it gets."""

    async def respond(ws: ServerConnection, kind: str) -> None:
        await ws.send(json.dumps({"type": "response.started", "response_id": "r", "kind": kind}))
        for _ in range(3):
            audio = base64.b64encode(bytes(960)).decode("ascii")
            await ws.send(json.dumps({"type": "audio", "response_id": "r", "audio": audio}))
        await ws.send(
            json.dumps({"type": "response.done", "response_id": "r", "status": "completed"})
        )

    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "session.ready", "session_id": "s", "call_id": 1}))
        await respond(ws, "greeting")
        async for message in ws:
            seen.append(message)
            if isinstance(message, bytes):
                continue
            kind = json.loads(message)["type"]
            if kind == "end_of_utterance":
                notice = {"type": "tool_call", "name": "check_availability", "arguments": {}}
                await ws.send(json.dumps(notice))
                await respond(ws, "answer")
            elif kind == "hangup":
                await ws.send(json.dumps({"type": "hangup", "reason": "caller"}))
                await ws.close(1000)

    return handler


SILENCE = bytes([0xFF]) * 160


def twilio_media(sid: str, ms: int = 20, byte: int = 0x7F) -> str:
    """A backend's media event: ``ms`` of mu-law audio (not silence)."""
    payload = base64.b64encode(bytes([byte]) * (8 * ms)).decode("ascii")
    return json.dumps({"event": "media", "streamSid": sid, "media": {"payload": payload}})


def twilio_mark(sid: str, name: str | None) -> str:
    mark = {} if name is None else {"name": name}
    return json.dumps({"event": "mark", "streamSid": sid, "mark": mark})


def is_silence(event: dict[str, Any]) -> bool:
    return base64.b64decode(event["media"]["payload"]) == SILENCE


def fake_twilio(
    seen: list[tuple[float, dict[str, Any]]],
    *,
    greet_ms: int = 60,
    answer_ms: int = 60,
    chunk_ms: int = 20,
    mark: str | None = "reply",  # sent after each chunk; None: nameless marks
    vad_silence_ms: int = 100,
    answers: bool = True,
    clear_on_speech: bool = False,
) -> Handler:
    """A scripted Twilio-facing backend with a server VAD of its own: greets after `start`
    (unless ``greet_ms`` is 0), answers once it has heard speech and then ``vad_silence_ms`` of
    line silence, a mark after every chunk; with ``clear_on_speech`` it sends `clear` when the
    caller speaks while it answers. Records every event with its arrival time."""

    async def speak(ws: ServerConnection, sid: str, ms: int) -> None:
        for _ in range(ms // chunk_ms):
            await ws.send(twilio_media(sid, chunk_ms))
            await ws.send(twilio_mark(sid, mark))

    async def handler(ws: ServerConnection) -> None:
        sid = ""
        heard, quiet = False, 0
        playing_until = 0.0  # when the caller will have heard the answer out
        async for message in ws:
            event = json.loads(message)
            seen.append((time.monotonic(), event))
            kind = event["event"]
            if kind == "start":
                sid = event["streamSid"]
                if greet_ms:
                    await speak(ws, sid, greet_ms)
            elif kind == "media":
                if not is_silence(event):
                    if clear_on_speech and time.monotonic() < playing_until:
                        playing_until = 0.0
                        await ws.send(json.dumps({"event": "clear", "streamSid": sid}))
                    heard, quiet = True, 0
                elif heard:
                    quiet += 20
                    if quiet >= vad_silence_ms:
                        heard = False
                        if answers:
                            playing_until = time.monotonic() + answer_ms / 1000
                            await speak(ws, sid, answer_ms)

    return handler
