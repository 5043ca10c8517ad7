"""Over real sockets: a session sending garbage gets ``error`` events, and an oversized frame gets
close 1009, while another session completes its response undisturbed; the server then still
accepts new sessions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from mocks.realtime.server import RealtimeServer

MANUAL = {
    "type": "session.update",
    "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
}


async def next_event(ws: ClientConnection, within_s: float = 5.0) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), within_s)
    event: dict[str, Any] = json.loads(message)
    return event


async def until(ws: ClientConnection, kind: str, within_s: float = 5.0) -> list[dict[str, Any]]:
    """Every event up to and including the first of type ``kind``."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(within_s):
        while not seen or seen[-1]["type"] != kind:
            seen.append(await next_event(ws))
    return seen


async def good_session(url: str) -> list[dict[str, Any]]:
    async with connect(url + "?model=gpt-realtime") as ws:
        await until(ws, "session.created")
        await ws.send(json.dumps(MANUAL))
        await until(ws, "session.updated")
        await ws.send(json.dumps({"type": "response.create"}))
        return await until(ws, "response.done")


async def bad_session(url: str, max_bytes: int) -> tuple[list[str], int | None]:
    garbage: list[str | bytes] = [
        "{not json",
        "[]",
        b"\x00\x01\x02binary",
        '{"type": "teleport"}',
        '{"type": "input_audio_buffer.append"}',
        '{"type": "conversation.item.create"}',
        '{"type": "conversation.item.truncate", "item_id": 5}',
        '{"type": "session.update", "session": {"audio": {"input": {"format": "mp3"}}}}',
        "null",
        json.dumps({"type": "response.cancel"}),
    ]
    codes: list[str] = []
    async with connect(url + "?model=gpt-realtime", max_size=None) as ws:
        await until(ws, "session.created")
        for frame in garbage:
            await ws.send(frame)
            event = await next_event(ws)
            assert event["type"] == "error", event
            codes.append(event["error"]["code"])
        await ws.send("x" * (max_bytes + 1))
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as closed:
            return codes, closed.rcvd.code if closed.rcvd else None
    return codes, None


@pytest.mark.timeout(30)
async def test_garbage_and_oversized_frames_never_disturb_other_sessions() -> None:
    max_bytes = 64 * 1024
    async with RealtimeServer(
        seed=1, greeting_ms=300, answer_ms=200, max_message_bytes=max_bytes
    ) as server:
        good, (codes, close_code) = await asyncio.gather(
            good_session(server.url), bad_session(server.url, max_bytes)
        )
        assert good[-1]["response"]["status"] == "completed"
        assert sum(e["type"] == "response.output_audio.delta" for e in good) == 6
        assert len(codes) == 10
        assert "invalid_json" in codes
        assert "invalid_message" in codes
        assert close_code == 1009
        again = await good_session(server.url)  # the server carries on
        assert again[-1]["response"]["status"] == "completed"


async def test_wrong_path_is_404() -> None:
    async with RealtimeServer() as server:
        from websockets.exceptions import InvalidStatus

        with pytest.raises(InvalidStatus) as info:
            await connect(server.url.replace("/v1/realtime", "/nope"))
        assert info.value.response.status_code == 404
