"""Helpers for the protocol clients' tests: a scriptable WebSocket server on 127.0.0.1:0."""

from __future__ import annotations

import base64
import contextlib
import json
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


def fake_twilio(seen: list[dict[str, Any]]) -> Handler:
    """A scripted Twilio-facing backend: greets after `start`, answers each `end_of_utterance`
    mark with media and a closing mark. Records every event it gets."""

    async def respond(ws: ServerConnection, sid: str, name: str) -> None:
        payload = base64.b64encode(bytes([0xFF]) * 160).decode("ascii")
        for _ in range(3):
            media = {"event": "media", "streamSid": sid, "media": {"payload": payload}}
            await ws.send(json.dumps(media))
        await ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": name}}))

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            event = json.loads(message)
            seen.append(event)
            if event["event"] == "start":
                await respond(ws, event["streamSid"], "greeting")
            elif event["event"] == "mark" and event["mark"]["name"] == "end_of_utterance":
                await respond(ws, event["streamSid"], "answer")

    return handler
