"""The ``openai-agents`` realtime runner (``RealtimeAgent`` + ``RealtimeRunner``), its model URL
pointed at the fake upstream, completes a spoken turn: the runner's own session.update (PCM16,
server VAD), the caller's speech through ``send_audio``, the agent's audio back and its end."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from agents import set_tracing_disabled
from agents.realtime import RealtimeAgent, RealtimeRunner

from mocks.realtime.server import RealtimeServer
from tests.conformance.conformance_helpers import (
    ANSWER_MS,
    API_KEY,
    SILENCE_MS,
    answered_once,
    spoken_turn,
)

CHUNK_BYTES = 960  # 20 ms of PCM16 at 24 kHz


@pytest.fixture(autouse=True)
def no_trace_export() -> Iterator[None]:
    """The SDK would export traces to OpenAI's platform; nothing may leave loopback."""
    set_tracing_disabled(True)
    yield
    set_tracing_disabled(False)


async def test_realtime_runner_completes_a_spoken_turn(upstream: RealtimeServer) -> None:
    agent = RealtimeAgent(name="Receptionist", instructions="Answer the caller briefly.")
    runner = RealtimeRunner(
        agent,
        config={
            "model_settings": {
                "output_modalities": ["audio"],
                "input_audio_format": "pcm16",
                "output_audio_format": "pcm16",
                "voice": "marin",
                "turn_detection": {"type": "server_vad", "silence_duration_ms": SILENCE_MS},
            }
        },
    )
    session = await runner.run(
        model_config={"api_key": API_KEY, "url": f"{upstream.url}?model=gpt-realtime"}
    )
    kinds: list[str] = []
    raw: list[str] = []
    audio = bytearray()
    async with asyncio.timeout(20), session:
        pcm = spoken_turn()
        for i in range(0, len(pcm), CHUNK_BYTES):
            await session.send_audio(pcm[i : i + CHUNK_BYTES])
        async for event in session:
            kinds.append(event.type)
            if event.type == "error":
                raise AssertionError(event.error)
            if event.type == "raw_model_event":
                raw.append(event.data.type)
                if event.data.type == "error":
                    raise AssertionError(event.data)
            if event.type == "audio":
                audio += event.audio.data
            if event.type == "audio_end":
                break
    assert "agent_start" in kinds, kinds
    # The runner's model layer read the fake's events as a turn: started, spoken, transcribed.
    assert {"turn_started", "audio", "transcript_delta"} <= set(raw), raw
    assert raw[-1] == "audio_done", raw
    answered_once(upstream)
    # The agent's audio is the fake's whole answer, PCM16 at 24 kHz.
    assert len(audio) == 2 * 24 * ANSWER_MS, (len(audio), kinds)
