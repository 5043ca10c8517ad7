"""The official ``openai`` SDK, as an application would use it, completes a spoken turn against
the fake upstream: GA ``session.update`` with PCM16 formats and server VAD, speech appended in
20 ms chunks, then the SDK's own parser reads the response audio and ``response.done``."""

from __future__ import annotations

import base64

import pytest
from openai import AsyncOpenAI
from websockets.exceptions import InvalidStatus

from mocks.realtime.server import RealtimeServer
from tests.conformance.conformance_helpers import (
    ANSWER_MS,
    API_KEY,
    SILENCE_MS,
    answered_once,
    spoken_turn,
)

CHUNK_BYTES = 960  # 20 ms of PCM16 at 24 kHz


def _ws_base(server: RealtimeServer) -> str:
    return server.url.removesuffix("/realtime")


async def test_sdk_completes_a_spoken_turn(upstream: RealtimeServer) -> None:
    client = AsyncOpenAI(api_key=API_KEY, websocket_base_url=_ws_base(upstream))
    seen: list[str] = []
    audio = bytearray()
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["audio"],
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "turn_detection": {
                            "type": "server_vad",
                            "silence_duration_ms": SILENCE_MS,
                            "create_response": True,
                        },
                    },
                    "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
                },
            }
        )
        pcm = spoken_turn()
        for i in range(0, len(pcm), CHUNK_BYTES):
            chunk = base64.b64encode(pcm[i : i + CHUNK_BYTES]).decode("ascii")
            await connection.input_audio_buffer.append(audio=chunk)
        async for event in connection:
            seen.append(event.type)
            # The SDK parses leniently; its models, strictly, must accept every event as sent.
            assert type(event).__module__.startswith("openai.types.realtime."), event
            type(event).model_validate(event.to_dict())
            if event.type == "error":
                raise AssertionError(event.error)
            if event.type == "response.output_audio.delta":
                audio += base64.b64decode(event.delta)
            if event.type == "response.done":
                assert event.response.status == "completed", event.response
                break
    assert seen[:2] == ["session.created", "session.updated"], seen
    for kind in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "response.created",
    ):
        assert kind in seen, (kind, seen)
    assert seen.index("input_audio_buffer.speech_stopped") < seen.index("response.created")
    answered_once(upstream)
    # The whole answer arrived, as PCM16 at 24 kHz: its length is its duration.
    assert len(audio) == 2 * 24 * ANSWER_MS, len(audio)


async def test_sdk_with_a_wrong_key_is_refused_as_openai_refuses_it(
    upstream: RealtimeServer,
) -> None:
    client = AsyncOpenAI(api_key="sk-wrong", websocket_base_url=_ws_base(upstream))
    with pytest.raises(InvalidStatus) as refused:
        async with client.realtime.connect(model="gpt-realtime"):
            pass
    response = refused.value.response
    assert response.status_code == 401
    assert b"invalid_api_key" in response.body, response.body
    assert not upstream.stats.sessions
