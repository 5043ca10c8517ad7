"""A pipecat bot is the system under test: pipecat's Twilio serializer over its FastAPI WebSocket
transport, its OpenAI Realtime service pointed at the fake upstream, served by uvicorn in its own
process on a loopback port (tests/conformance/pipecat_bot.py). First a minimal Twilio-shaped
caller checks the bot answers at all; then the generator calls it as Twilio would."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from conformance_helpers import SILENCE_MS
from twilio_line import speak_and_listen

from generator.audio import synth_speech
from mocks.realtime.server import RealtimeServer

BOT = Path(__file__).with_name("pipecat_bot.py")
StartBot = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_bot(upstream: RealtimeServer, tmp_path: Path) -> AsyncIterator[StartBot]:
    """Start the pipecat bot against the fake upstream; returns its /media-stream URL."""
    started: list[asyncio.subprocess.Process] = []

    async def start(*, greet: bool = False) -> str:
        log = (tmp_path / f"pipecat-{len(started)}.log").open("wb")
        env = os.environ | {"OPENAI_API_KEY": "sk-conformance", "PYTHONUNBUFFERED": "1"}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(BOT),
            upstream.url,
            *(["--greet"] if greet else []),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env=env,
        )
        log.close()
        started.append(process)
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 30)
        except TimeoutError:
            raise AssertionError(f"the bot did not start; see {log.name}") from None
        if not line.startswith(b"PORT "):
            raise AssertionError(f"the bot did not start ({line!r}); see {log.name}")
        return f"ws://127.0.0.1:{int(line.split()[1])}/media-stream"

    yield start
    for process in started:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.mark.timeout(60)
async def test_bot_answers_a_twilio_shaped_stream(start_bot: StartBot) -> None:
    url = await start_bot()
    answer = await speak_and_listen(url, synth_speech(800, seed=7))
    # Voice-to-voice includes the upstream's end-of-turn silence: it cannot come sooner.
    assert answer.voice_to_voice_ms >= SILENCE_MS, answer
    assert answer.voice_to_voice_ms < SILENCE_MS + 1500, answer
    assert answer.audio_frames > 0
