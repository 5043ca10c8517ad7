"""Black-box helpers for the fake Realtime upstream's tests: a raw WebSocket client that speaks
JSON events, event collection with deadlines (never a bare sleep), the admin API over aiohttp,
and a speech-like test tone. Only the agreed public interface is used (URL, events, admin)."""

from __future__ import annotations

import asyncio
import base64
import json
import math
from array import array
from collections.abc import Callable
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect

Event = dict[str, Any]


def tone_pcm16(ms: int, rate: int = 24000, level: float = 0.3) -> bytes:
    """A loud 220 Hz tone with a few harmonics: speech as far as energy-based VAD can tell."""
    n = rate * ms // 1000
    samples = array(
        "h",
        (
            int(
                level
                * 32767
                * sum(math.sin(2 * math.pi * 220 * k * i / rate) / k for k in (1, 2, 3))
                / 1.9
            )
            for i in range(n)
        ),
    )
    return samples.tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def open_session(
    url: str, *, beta: bool = False, model: str = "gpt-realtime"
) -> ClientConnection:
    headers = {"Authorization": "Bearer test"}
    if beta:
        headers["OpenAI-Beta"] = "realtime=v1"
    return await connect(f"{url}?model={model}", additional_headers=headers, max_size=None)


async def send(ws: ClientConnection, event: Event) -> None:
    await ws.send(json.dumps(event))


async def recv(ws: ClientConnection, within: float = 5.0) -> Event:
    raw = await asyncio.wait_for(ws.recv(), within)
    event: Event = json.loads(raw)
    return event


async def collect_until(
    ws: ClientConnection, stop: Callable[[Event], bool], within: float = 10.0
) -> list[Event]:
    """Every event up to and including the first one ``stop`` accepts, within ``within`` seconds."""
    events: list[Event] = []
    async with asyncio.timeout(within):
        while True:
            event = json.loads(await ws.recv())
            events.append(event)
            if stop(event):
                return events


def of_type(kind: str) -> Callable[[Event], bool]:
    return lambda event: event.get("type") == kind


async def admin(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


def session_update_ga(
    fmt: dict[str, Any] | None = None, *, vad: bool = False, tools: bool = False
) -> Event:
    fmt = fmt or {"type": "audio/pcm", "rate": 24000}
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": fmt,
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 300}
                if vad
                else None,
            },
            "output": {"format": fmt, "voice": "marin"},
        },
    }
    if tools:
        session["tools"] = [
            {
                "type": "function",
                "name": name,
                "description": name,
                "parameters": {"type": "object"},
            }
            for name in ("check_availability", "book_appointment")
        ]
    return {"type": "session.update", "session": session}


async def greeting(ws: ClientConnection, within: float = 10.0) -> list[Event]:
    """Asks for a response with no new input (the greeting) and returns its events."""
    await send(ws, {"type": "response.create"})
    return await collect_until(ws, of_type("response.done"), within)
