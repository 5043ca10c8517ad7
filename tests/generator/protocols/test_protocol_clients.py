"""The native and Twilio clients against scripted local servers: what goes on the wire (frame
sizes, Twilio's start/media/stop fields and its never-ending line), and what comes back as
response timings."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import time
from dataclasses import replace
from typing import Any

from websockets.asyncio.server import ServerConnection

from generator.audio import synth_speech
from generator.protocols import encode_audio, make_client
from generator.protocols.base import (
    CallClient,
    ClientSettings,
    Deadline,
    ResponseTiming,
    Utterance,
    close_quietly,
    open_ws,
    receive,
)
from generator.protocols.errors import ResponseTimeout
from generator.protocols.native import native_url
from generator.protocols.realtime import realtime_url
from generator.protocols.twilio_wire import twilio_url
from tests.generator.protocols.call_fakes import fake_native, fake_twilio, is_silence, ws_server

PCM = synth_speech(100, seed=1)  # 5 frames


async def _call(client: CallClient, utterance: Utterance) -> tuple[ResponseTiming, ResponseTiming]:
    lags: list[float] = []
    await client.connect()
    greeting = await client.wait_greeting("wait")
    assert greeting is not None
    await client.send_utterance(utterance, lags.append)
    await client.end_utterance()
    answer = await client.wait_response()
    await client.hangup()
    await client.close()
    assert len(lags) == 5
    return greeting, answer


async def test_native_call() -> None:
    seen: list[str | bytes] = []
    async with ws_server(fake_native(seen)) as url:
        client = make_client("native", ClientSettings(url), random.Random(0))
        greeting, answer = await _call(client, encode_audio("native", PCM))
    audio = [m for m in seen if isinstance(m, bytes)]
    assert [len(m) for m in audio] == [960] * 5
    texts = [json.loads(m)["type"] for m in seen if isinstance(m, str)]
    assert texts == ["end_of_utterance", "hangup"]
    assert abs(greeting.audio_s - 0.06) < 1e-9  # three 20 ms chunks
    assert answer.tool_calls == 1
    assert answer.first_audio_at <= answer.last_audio_at <= answer.done_at


async def test_twilio_call_streams_the_line_as_twilio_does() -> None:
    seen: list[tuple[float, dict[str, Any]]] = []
    settings = ClientSettings("", quiet_gap_s=0.2)
    async with ws_server(fake_twilio(seen)) as url:
        client = make_client("twilio", replace(settings, url=url), random.Random(0))
        greeting, answer = await _call(client, encode_audio("twilio", PCM))
    events = [e for _t, e in seen]
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["connected", "start"]
    assert kinds[-1] == "stop"
    assert set(kinds[2:-1]) == {"media", "mark"}  # marks only as echoes (3 + 3 sent)
    assert kinds.count("mark") == 6
    start = events[1]
    sid = start["streamSid"]
    assert sid.startswith("MZ")
    assert start["start"]["callSid"].startswith("CA")
    assert start["start"]["accountSid"].startswith("AC")
    assert start["start"]["tracks"] == ["inbound"]
    assert start["start"]["mediaFormat"] == {
        "encoding": "audio/x-mulaw",
        "sampleRate": 8000,
        "channels": 1,
    }
    media = [e for e in events if e["event"] == "media"]
    # The line never stops: silence before the caller speaks (the greeting), its 5 frames,
    # silence after them until the answer has been heard out and the quiet gap passed.
    speech = [k for k, e in enumerate(media) if not is_silence(e)]
    assert len(speech) == 5
    assert speech == list(range(speech[0], speech[0] + 5))
    assert speech[0] > 0
    assert len(media) > speech[-1] + 10
    assert all(e["streamSid"] == sid for e in media)
    assert {len(base64.b64decode(e["media"]["payload"])) for e in media} == {160}
    assert [e["media"]["chunk"] for e in media] == [str(k) for k in range(1, len(media) + 1)]
    stamps = [int(e["media"]["timestamp"]) for e in media]
    assert {b - a for a, b in itertools.pairwise(stamps)} == {20}
    numbers = [e["sequenceNumber"] for e in events if "sequenceNumber" in e]
    assert all(isinstance(n, str) for n in numbers)
    assert [int(n) for n in numbers] == list(range(1, len(numbers) + 1))
    assert abs(greeting.audio_s - 0.06) < 1e-9
    assert abs(answer.audio_s - 0.06) < 1e-9
    assert answer.done_at - answer.last_audio_at >= 0.2  # heard out, then the quiet gap


def test_urls() -> None:
    assert native_url("ws://h:1", "abc") == "ws://h:1/ws/voice/abc"
    assert native_url("ws://h:1/ws/voice/", "abc") == "ws://h:1/ws/voice/abc"
    assert native_url("ws://h:1/x/{id}?vad=server", "abc") == "ws://h:1/x/abc?vad=server"
    assert twilio_url("ws://h:1") == "ws://h:1/media-stream"
    assert twilio_url("ws://h:1/other") == "ws://h:1/other"
    assert realtime_url("ws://h:1/v1/realtime", "m") == "ws://h:1/v1/realtime?model=m"
    assert realtime_url("ws://h:1/v1/realtime?model=x", "m") == "ws://h:1/v1/realtime?model=x"
    assert realtime_url("ws://h:1/v1/realtime?a=1", "m") == "ws://h:1/v1/realtime?a=1&model=m"


def test_audio_gap_counts_lateness_beyond_real_time() -> None:
    on_time = ResponseTiming(10.0, 10.2, audio_s=0.25, last_chunk_s=0.05, done_at=10.2)
    assert on_time.audio_gap_s == 0.0
    late = ResponseTiming(10.0, 10.5, audio_s=0.25, last_chunk_s=0.05, done_at=10.5)
    assert abs(late.audio_gap_s - 0.3) < 1e-9


async def test_arrival_times_are_taken_as_bytes_arrive_not_when_read() -> None:
    async def two_messages(ws: ServerConnection) -> None:
        await ws.send("first")
        await asyncio.sleep(0.1)  # the spacing under test, not a wait for readiness
        await ws.send("second")
        await ws.wait_closed()

    async with ws_server(two_messages) as url:
        ws = await open_ws(url, 5.0)
        deadline = Deadline(time.monotonic, 5.0, ResponseTimeout)
        for _ in range(500):  # polls until both are in, neither read yet
            if len(getattr(ws, "arrivals", ())) == 2:
                break
            await asyncio.sleep(0.01)
        read_at = time.monotonic()
        first, first_at = await receive(ws, deadline)
        second, second_at = await receive(ws, deadline)
        await close_quietly(ws)
    assert (first, second) == ("first", "second")
    assert first_at < second_at <= read_at
    assert 0.08 < second_at - first_at < 0.2
