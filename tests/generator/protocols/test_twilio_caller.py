"""The Twilio caller against hostile loopback backends: a mark after every chunk (named and
nameless), a greeting that overlaps the caller's speech, no greeting at all, and barge-in with
and without the backend's `clear`."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

from generator.audio import mulaw_decode, synth_speech, voiced_frames
from generator.protocols import encode_audio, make_client
from generator.protocols.base import ClientSettings
from generator.protocols.errors import GreetingTimeout, ResponseTimeout
from generator.protocols.twilio import TwilioClient
from tests.generator.protocols.call_fakes import (
    fake_twilio,
    is_silence,
    twilio_mark,
    twilio_media,
    ws_server,
)

UTTERANCE = encode_audio("twilio", synth_speech(100, seed=1))
LONG_UTTERANCE = encode_audio("twilio", synth_speech(600, seed=2))


def _client(url: str, **settings: Any) -> TwilioClient:
    client = make_client("twilio", ClientSettings(url, **settings), random.Random(0))
    assert isinstance(client, TwilioClient)
    return client


async def test_marks_come_back_as_playback_reaches_them_with_the_name_they_came_with() -> None:
    seen: list[tuple[float, dict[str, Any]]] = []
    sent_at: list[float] = []

    async def greet_in_a_burst(ws: ServerConnection) -> None:
        async for message in ws:
            event = json.loads(message)
            seen.append((time.monotonic(), event))
            if event["event"] == "start":
                sid = event["streamSid"]
                sent_at.append(time.monotonic())
                for k in range(5):  # 5 x 100 ms, a mark after each: nameless every other one
                    await ws.send(twilio_media(sid, 100))
                    await ws.send(twilio_mark(sid, None if k % 2 else f"part-{k}"))

    async with ws_server(greet_in_a_burst) as url:
        client = _client(url, quiet_gap_s=0.2)
        await client.connect()
        greeting = await client.wait_greeting("wait")
        await client.hangup()
    assert greeting is not None
    assert greeting.audio_s == pytest.approx(0.5)
    echoes = [(t, e) for t, e in seen if e["event"] == "mark"]
    assert [e["mark"] for _t, e in echoes] == [
        {"name": "part-0"},
        {},
        {"name": "part-2"},
        {},
        {"name": "part-4"},
    ]
    assert all("None" not in json.dumps(e) for _t, e in echoes)
    for k, (at, _event) in enumerate(echoes):
        # Not before its chunk had played (one 20 ms tick of slack for the line's cadence).
        assert at - sent_at[0] >= (k + 1) * 0.1 - 0.005, k


async def test_a_greeting_overlapping_the_callers_speech_is_not_the_answer() -> None:
    async def greet_long_never_answer(ws: ServerConnection) -> None:
        async for message in ws:
            event = json.loads(message)
            if event["event"] == "start":
                sid = event["streamSid"]
                for _ in range(60):  # 1.2 s of greeting, paced in real time
                    await ws.send(twilio_media(sid, 20))
                    await ws.send(twilio_mark(sid, None))
                    await asyncio.sleep(0.02)  # the pace under test, not a readiness wait

    async with ws_server(greet_long_never_answer) as url:
        client = _client(url, quiet_gap_s=0.3, response_timeout_s=1.0)
        await client.connect()
        assert await client.wait_greeting("none") is None
        await client.send_utterance(UTTERANCE, lambda _lag: None)
        await client.end_utterance()
        with pytest.raises(ResponseTimeout, match="started before the turn ended kept arriving"):
            await client.wait_response()
        await client.close()


async def test_the_answer_after_an_overlapping_greeting_is_timed_from_the_turn() -> None:
    answer_sent: list[float] = []

    async def greet_then_answer(ws: ServerConnection) -> None:
        async for message in ws:
            event = json.loads(message)
            if event["event"] == "start":
                sid = event["streamSid"]
                for _ in range(30):  # 0.6 s of greeting over the caller's speech
                    await ws.send(twilio_media(sid, 20))
                    await ws.send(twilio_mark(sid, "chunk"))
                    await asyncio.sleep(0.02)  # the pace under test
                await asyncio.sleep(0.5)  # longer than the caller's quiet gap
                answer_sent.append(time.monotonic())
                for _ in range(3):
                    await ws.send(twilio_media(sid, 20))

    async with ws_server(greet_then_answer) as url:
        client = _client(url, quiet_gap_s=0.3, response_timeout_s=3.0)
        await client.connect()
        await client.wait_greeting("none")
        await client.send_utterance(UTTERANCE, lambda _lag: None)
        turn = await client.end_utterance()
        answer = await client.wait_response()
        await client.hangup()
    assert answer.audio_s == pytest.approx(0.06)
    assert answer.first_audio_at >= answer_sent[0]
    assert answer.first_audio_at > turn.voiced_at


async def test_no_greeting_at_all() -> None:
    seen: list[tuple[float, dict[str, Any]]] = []
    async with ws_server(fake_twilio(seen, greet_ms=0)) as url:
        waiting = _client(url, greeting_timeout_s=0.3)
        await waiting.connect()
        with pytest.raises(GreetingTimeout):
            await waiting.wait_greeting("wait")
        await waiting.close()
        auto = _client(url, greeting_timeout_s=0.3, quiet_gap_s=0.2)
        await auto.connect()
        assert await auto.wait_greeting("auto") is None
        await auto.send_utterance(UTTERANCE, lambda _lag: None)
        turn = await auto.end_utterance()
        answer = await auto.wait_response()
        await auto.hangup()
    assert answer.first_audio_at > turn.voiced_at


@pytest.mark.parametrize("clears", [True, False])
async def test_barge_in(clears: bool) -> None:
    seen: list[tuple[float, dict[str, Any]]] = []
    fake = fake_twilio(seen, greet_ms=0, answer_ms=3000, chunk_ms=100, clear_on_speech=clears)
    async with ws_server(fake) as url:
        client = _client(url, quiet_gap_s=0.2, greeting_timeout_s=0.2)
        await client.connect()
        await client.wait_greeting("auto")
        await client.send_utterance(UTTERANCE, lambda _lag: None)
        turn = await client.end_utterance()
        barge = await client.barge_in(LONG_UTTERANCE, 0.3, 1.0, lambda _lag: None)
        await client.close()
    assert barge.first_audio_at > turn.voiced_at
    assert barge.speech_at is not None
    assert barge.speech_at - barge.first_audio_at >= 0.3
    media = [e for _t, e in seen if e["event"] == "media"]
    assert sum(not is_silence(e) for e in media) == len(UTTERANCE.frames) + len(
        LONG_UTTERANCE.frames
    )
    if clears:
        assert barge.stopped_at is not None
        assert 0 <= barge.stopped_at - barge.speech_at < 0.5
        assert not barge.ignored
        # Every mark of the cleared answer was sent back at the clear, none lost.
        assert sum(e["event"] == "mark" for _t, e in seen) == 30
    else:
        assert barge.stopped_at is None
        assert barge.ignored


def test_line_noise_is_seeded_and_far_below_voice() -> None:
    def noise(seed: int) -> list[str]:
        client = TwilioClient(
            ClientSettings("ws://127.0.0.1:9", line_noise=True), random.Random(seed)
        )
        return client._silence

    assert noise(1) == noise(1)
    assert noise(1) != noise(2)
    pcm = mulaw_decode(b"".join(base64.b64decode(p) for p in noise(1)))
    assert len(pcm) == 2 * 8000  # a second of it
    assert set(pcm) != {0}  # not digital silence
    assert not any(voiced_frames(pcm, 320))  # 20 ms frames at 8 kHz: none counts as voice
