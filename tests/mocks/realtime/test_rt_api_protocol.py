"""The fake Realtime upstream seen from outside: the official openai SDK drives a session, the
beta names answer the ``OpenAI-Beta: realtime=v1`` header, each output format gives audio of the
right size, the scripted function calls, and server VAD."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import ClientConnection

from mocks.realtime.server import RealtimeServer
from tests.mocks.realtime.rt_api_helpers import (
    b64,
    collect_until,
    greeting,
    of_type,
    open_session,
    recv,
    send,
    session_update_ga,
    tone_pcm16,
)

MS = 200


@pytest.fixture
async def server() -> AsyncIterator[RealtimeServer]:
    async with RealtimeServer(seed=3, greeting_ms=MS, answer_ms=MS, chunk_ms=50) as srv:
        yield srv


def audio_bytes(events: list[dict[str, object]], kind: str) -> int:
    return sum(len(base64.b64decode(str(e["delta"]))) for e in events if e["type"] == kind)


async def test_openai_sdk_drives_a_session(server: RealtimeServer) -> None:
    client = AsyncOpenAI(api_key="test", websocket_base_url=server.url.removesuffix("/realtime"))
    try:
        async with client.realtime.connect(model="gpt-realtime") as conn:
            created = await conn.recv()
            assert created.type == "session.created"
            await conn.session.update(session=session_update_ga()["session"])
            await conn.input_audio_buffer.append(audio=b64(tone_pcm16(300)))
            await conn.input_audio_buffer.commit()
            await conn.response.create()
            audio = bytearray()
            kinds = []
            async for event in conn:
                kinds.append(event.type)
                if event.type == "response.output_audio.delta":
                    audio += base64.b64decode(event.delta)
                if event.type == "response.done":
                    assert event.response.status == "completed"
                    assert event.response.usage is not None
                    break
    finally:
        await client.close()
    assert "session.updated" in kinds
    assert "input_audio_buffer.committed" in kinds
    assert "response.created" in kinds
    assert "response.output_audio_transcript.delta" in kinds
    assert len(audio) == 24000 * 2 * MS // 1000  # PCM16 at 24 kHz
    assert max(abs(s) for s in memoryview(bytes(audio)).cast("h")) > 1000  # not silence


async def test_beta_header_gives_beta_names_and_formats(server: RealtimeServer) -> None:
    server.legacy_beta = True  # what --legacy-beta sets
    ws = await open_session(server.url, beta=True)
    try:
        assert (await recv(ws))["type"] == "session.created"
        await send(ws, {"type": "session.update", "session": {"output_audio_format": "g711_ulaw"}})
        updated = await recv(ws)
        assert updated["type"] == "session.updated"
        assert updated["session"]["output_audio_format"] == "g711_ulaw"
        events = await greeting(ws)
    finally:
        await ws.close()
    kinds = {e["type"] for e in events}
    assert {
        "response.audio.delta",
        "response.audio_transcript.delta",
        "response.audio.done",
    } <= kinds
    assert not any(k.startswith("response.output_audio") for k in kinds)
    assert audio_bytes(events, "response.audio.delta") == 8 * MS  # 8 kHz, one byte per sample


@pytest.mark.parametrize(
    ("fmt", "bytes_per_ms"),
    [
        ({"type": "audio/pcm", "rate": 24000}, 48),
        ({"type": "audio/pcmu"}, 8),
        ({"type": "audio/pcma"}, 8),
    ],
)
async def test_ga_output_formats(
    server: RealtimeServer, fmt: dict[str, object], bytes_per_ms: int
) -> None:
    ws = await open_session(server.url)
    try:
        await recv(ws)
        await send(ws, session_update_ga(fmt))
        assert (await recv(ws))["type"] == "session.updated"
        events = await greeting(ws)
    finally:
        await ws.close()
    assert audio_bytes(events, "response.output_audio.delta") == bytes_per_ms * MS
    deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
    assert len(deltas) == MS // 50
    done = events[-1]
    assert done["response"]["status"] == "completed"


async def user_turn(ws: ClientConnection, ms: int = 200) -> list[dict[str, object]]:
    await send(ws, {"type": "input_audio_buffer.append", "audio": b64(tone_pcm16(ms))})
    await send(ws, {"type": "input_audio_buffer.commit"})
    await send(ws, {"type": "response.create"})
    return await collect_until(ws, of_type("response.done"))


def call_of(events: list[dict[str, object]]) -> dict[str, object]:
    done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert len(done) == 1, [e["type"] for e in events]
    return done[0]


async def test_function_call_script(server: RealtimeServer) -> None:
    ws = await open_session(server.url)
    try:
        await recv(ws)
        await send(ws, session_update_ga(tools=True))
        await collect_until(ws, of_type("session.updated"))
        first = call_of(await user_turn(ws))
        assert first["name"] == "check_availability"
        assert set(json.loads(str(first["arguments"]))) == {"date", "service"}
        output = {
            "type": "function_call_output",
            "call_id": first["call_id"],
            "output": '{"ok": true}',
        }
        await send(ws, {"type": "conversation.item.create", "item": output})
        await send(ws, {"type": "response.create"})
        answer = await collect_until(ws, of_type("response.done"))
        assert any(e["type"] == "response.output_audio.delta" for e in answer)
        second = call_of(await user_turn(ws))
        assert second["name"] == "book_appointment"
        assert set(json.loads(str(second["arguments"]))) == {"customer_phone", "date", "time"}
    finally:
        await ws.close()


async def test_no_tools_means_spoken_answers(server: RealtimeServer) -> None:
    ws = await open_session(server.url)
    try:
        await recv(ws)
        events = await user_turn(ws)
    finally:
        await ws.close()
    assert not any(str(e["type"]).startswith("response.function_call") for e in events)
    assert any(e["type"] == "response.output_audio.delta" for e in events)


async def test_server_vad_commits_and_answers_by_itself(server: RealtimeServer) -> None:
    ws = await open_session(server.url)
    try:
        await recv(ws)
        await send(ws, session_update_ga(vad=True))
        await collect_until(ws, of_type("session.updated"))
        speech, silence = tone_pcm16(400), bytes(2 * 24 * 600)
        audio = speech + silence
        step = 2 * 24 * 20  # 20 ms frames, as a phone would send them
        for i in range(0, len(audio), step):
            await send(ws, {"type": "input_audio_buffer.append", "audio": b64(audio[i : i + step])})
        events = await collect_until(ws, of_type("response.done"))
    finally:
        await ws.close()
    kinds = [e["type"] for e in events]
    for kind in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "response.created",
    ):
        assert kind in kinds
    assert kinds.index("input_audio_buffer.speech_stopped") < kinds.index("response.created")
    started = events[kinds.index("input_audio_buffer.speech_started")]
    stopped = events[kinds.index("input_audio_buffer.speech_stopped")]
    assert 300 <= int(stopped["audio_end_ms"]) - int(started["audio_start_ms"]) <= 800
