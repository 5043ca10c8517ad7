"""A pipecat bot is the system under test: pipecat's Twilio serializer over its FastAPI WebSocket
transport, its OpenAI Realtime service pointed at the fake upstream, served by uvicorn in its own
process on a loopback port (tests/conformance/pipecat_bot.py). First a minimal Twilio-shaped
caller checks that the bot answers at all; then the generator calls it as Twilio would, and must
measure voice-to-voice latency and the barge-in reaction through it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator.audio import FRAME_MS, synth_speech
from mocks.realtime.server import RealtimeServer
from tests.conformance.conformance_helpers import (
    ANSWER_MS,
    API_KEY,
    GREETING_MS,
    SILENCE_MS,
    callbench_calls,
    cancelled_responses,
    child,
)
from tests.conformance.twilio_line import speak_and_listen

BOT = Path(__file__).with_name("pipecat_bot.py")


@dataclass(frozen=True)
class Bot:
    url: str  # the bot's Twilio stream endpoint
    upstream: RealtimeServer  # the fake behind it, for its ground truth


StartBot = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def start_bot(tmp_path: Path) -> AsyncIterator[StartBot]:
    """Start a fake upstream and a pipecat bot in front of it."""
    async with AsyncExitStack() as stack:

        async def start(*, greet: bool = False, answer_ms: int = ANSWER_MS) -> Bot:
            upstream = await stack.enter_async_context(
                RealtimeServer(
                    seed=15, greeting_ms=GREETING_MS, answer_ms=answer_ms, api_key=API_KEY
                )
            )
            log = tmp_path / "pipecat.log"
            argv = [sys.executable, str(BOT), upstream.url, *(["--greet"] if greet else [])]
            env = {"OPENAI_API_KEY": API_KEY, "PYTHONUNBUFFERED": "1"}
            bot = await stack.enter_async_context(
                child(argv, log, env, stdout=asyncio.subprocess.PIPE)
            )
            assert bot.stdout is not None
            try:
                line = await asyncio.wait_for(bot.stdout.readline(), 30)
            except TimeoutError:
                raise AssertionError(f"the bot did not start; see {log}") from None
            if not line.startswith(b"PORT "):
                raise AssertionError(f"the bot did not start ({line!r}): {log.read_text()}")
            return Bot(f"ws://127.0.0.1:{int(line.split()[1])}/media-stream", upstream)

        yield start


def _trend(summary: dict[str, Any], name: str) -> dict[str, float]:
    trend: dict[str, float] | None = summary["metrics"].get(name)
    assert trend, (name, sorted(summary["metrics"]), summary["errors"], summary["_stderr"])
    return trend


@pytest.mark.timeout(60)
async def test_bot_answers_a_twilio_shaped_stream(start_bot: StartBot) -> None:
    bot = await start_bot()
    answer = await speak_and_listen(bot.url, synth_speech(800, seed=7))
    # Voice-to-voice includes the upstream's end-of-turn silence: it cannot come sooner.
    assert answer.voice_to_voice_ms >= SILENCE_MS - FRAME_MS, answer
    assert answer.voice_to_voice_ms < SILENCE_MS + 1500, answer
    assert answer.audio_frames > 0


@pytest.mark.timeout(150)
async def test_generator_calls_the_bot(start_bot: StartBot, tmp_path: Path) -> None:
    bot = await start_bot(greet=True)
    summary = await callbench_calls(bot.url, tmp_path / "run", "--calls", "10", "--turns", "2")
    calls = summary["calls"]
    assert calls["total"] == 10, (summary["errors"], summary["_stderr"])
    assert calls["succeeded"] >= 9, (calls, summary["errors"])
    assert summary["_exit_code"] == 0, summary["thresholds"]
    turn, response = _trend(summary, "turn_latency"), _trend(summary, "response_time")
    assert turn["count"] == response["count"] == 2 * calls["succeeded"], (turn, response)
    # Voice-to-voice: the caller's last voiced frame → the first answer audio. The upstream's
    # VAD waits SILENCE_MS of line silence before it even asks for the answer, so no honest
    # figure is below it (less one frame: the caller's and the VAD's last voiced frame may
    # differ by one); how far above depends on the bot (and on this machine's load).
    assert turn["min"] >= SILENCE_MS - FRAME_MS, turn
    assert _trend(summary, "greeting_latency")["count"] == 10


@pytest.mark.timeout(150)
async def test_generator_measures_the_bots_barge_in_reaction(
    start_bot: StartBot, tmp_path: Path
) -> None:
    # A long answer, so the caller has time to talk over it.
    bot = await start_bot(greet=True, answer_ms=4000)
    flags = ["--calls", "4", "--turns", "2", "--barge-in", "1"]
    summary = await callbench_calls(bot.url, tmp_path / "run", *flags)
    assert summary["calls"]["succeeded"] >= 3, (summary["calls"], summary["errors"])
    reaction = _trend(summary, "barge_in_reaction")
    assert reaction["count"] >= 3, reaction
    # The bot clears Twilio's buffer once the upstream's VAD hears the caller, within the
    # caller's bound (2 s by default; the 4 s answer would still be playing): never ignored.
    assert summary["counters"]["barge_in_ignored"] == 0, (reaction, summary["counters"])
    assert 0 < reaction["min"] <= reaction["max"] < 2000, reaction
    # The fake's own record: the upstream's VAD cancelled each answer the caller talked over.
    assert cancelled_responses(bot.upstream) >= reaction["count"], bot.upstream.stats.sessions
