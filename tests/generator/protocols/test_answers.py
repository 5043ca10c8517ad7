"""Which response answers a turn, for the native and Realtime clients: the sans-I/O watch with
made-up times, then the clients against loopback servers that greet over the caller's speech,
show the VAD's speech_stopped, and cancel (or talk on) when the caller barges in."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

from generator.audio import synth_speech
from generator.protocols import encode_audio, make_client
from generator.protocols.answers import AnswerWatch, Kind, Note
from generator.protocols.base import CallClient, ClientSettings
from tests.generator.protocols.call_fakes import fake_realtime, ws_server

AUDIO_20MS = Note(Kind.AUDIO, 0.02)


def test_a_response_under_way_when_the_turn_ended_is_read_through() -> None:
    watch = AnswerWatch(after=1.0)
    watch.feed(Note(Kind.STARTED), 0.5)  # the greeting, started while the caller spoke
    assert not watch.feed(AUDIO_20MS, 1.2)  # ... still arriving after the turn ended
    watch.feed(Note(Kind.DONE, status="completed"), 1.3)
    assert not watch.answer_done(Note(Kind.DONE))
    assert watch.skipped == 1
    watch.feed(Note(Kind.STARTED), 1.5)
    assert watch.feed(AUDIO_20MS, 1.6)
    done = Note(Kind.DONE, status="completed")
    watch.feed(done, 1.7)
    assert watch.answer_done(done)
    timing = watch.finish(1.7)
    assert timing.first_audio_at == 1.6
    assert timing.audio_s == pytest.approx(0.02)


def test_unannounced_audio_belongs_to_a_response_that_began_when_it_arrived() -> None:
    watch = AnswerWatch(after=1.0)
    assert not watch.feed(AUDIO_20MS, 0.9)
    assert not watch.feed(AUDIO_20MS, 1.1)  # same response: it began before the turn ended
    watch.feed(Note(Kind.DONE), 1.2)
    assert watch.feed(AUDIO_20MS, 1.3)


def test_speech_stopped_after_the_turn_is_kept() -> None:
    watch = AnswerWatch(after=1.0)
    watch.feed(Note(Kind.SPEECH_STOPPED), 0.5)  # a previous turn's
    watch.feed(Note(Kind.SPEECH_STOPPED), 1.5)
    watch.feed(Note(Kind.SPEECH_STOPPED), 1.6)
    watch.feed(AUDIO_20MS, 1.8)
    assert watch.finish(1.9).speech_stopped_at == 1.5


def _audio(ms: int, rid: str) -> str:
    data = base64.b64encode(bytes(48 * ms)).decode("ascii")
    return json.dumps({"type": "audio", "response_id": rid, "audio": data})


def _native_backend(*, greet_over_speech: bool = False, cancels: bool | None = None) -> Any:
    """A native backend: with ``greet_over_speech`` a 400 ms greeting paced in real time
    starts with the call; each `end_of_utterance` gets `speech_stopped` and an answer (2 s paced
    when ``cancels`` is given: cancelled by caller audio during it if ``cancels``)."""
    ids = itertools.count(1)

    async def respond(ws: ServerConnection, ms: int, interrupted: asyncio.Event) -> None:
        rid = f"r{next(ids)}"
        await ws.send(json.dumps({"type": "response.started", "response_id": rid}))
        status = "completed"
        for _ in range(ms // 20):
            if interrupted.is_set():
                status = "cancelled"
                break
            await ws.send(_audio(20, rid))
            await asyncio.sleep(0.02)  # real-time pace, the behaviour under test
        done = {"type": "response.done", "response_id": rid, "status": status}
        await ws.send(json.dumps(done))

    async def handler(ws: ServerConnection) -> None:
        interrupted = asyncio.Event()
        answering: asyncio.Task[None] | None = None
        tasks = []
        if greet_over_speech:
            tasks.append(asyncio.create_task(respond(ws, 400, asyncio.Event())))
        async for message in ws:
            if isinstance(message, bytes):
                if cancels and answering is not None and not answering.done():
                    interrupted.set()
                continue
            kind = json.loads(message)["type"]
            if kind == "end_of_utterance":
                await ws.send(json.dumps({"type": "speech_stopped"}))
                interrupted = asyncio.Event()
                ms = 60 if cancels is None else 2000
                answering = asyncio.create_task(respond(ws, ms, interrupted))
                tasks.append(answering)
            elif kind == "hangup":
                await ws.send(json.dumps({"type": "hangup", "reason": "caller"}))
                await ws.close(1000)

    return handler


async def _speak(client: CallClient, ms: int = 100) -> None:
    utterance = encode_audio(client.protocol, synth_speech(ms, 1))  # type: ignore[arg-type]
    await client.send_utterance(utterance, lambda _: None)


async def test_native_a_greeting_over_the_callers_speech_is_not_the_answer() -> None:
    async with ws_server(_native_backend(greet_over_speech=True)) as url:
        client = make_client("native", ClientSettings(url), random.Random(0))
        await client.connect()
        assert await client.wait_greeting("none") is None
        await _speak(client)  # 100 ms: the greeting (400 ms) is still streaming at the end
        turn = await client.end_utterance()
        answer = await client.wait_response()
        await client.hangup()
    assert answer.first_audio_at > turn.voiced_at
    assert answer.audio_s == pytest.approx(0.06)  # the answer's, not the greeting's 0.4 s
    assert answer.speech_stopped_at is not None
    assert answer.speech_stopped_at > turn.voiced_at


@pytest.mark.parametrize("cancels", [True, False])
async def test_native_barge_in(cancels: bool) -> None:
    async with ws_server(_native_backend(cancels=cancels)) as url:
        client = make_client("native", ClientSettings(url), random.Random(0))
        await client.connect()
        await _speak(client)
        turn = await client.end_utterance()
        nxt = encode_audio("native", synth_speech(300, 2))
        barge = await client.barge_in(nxt, 0.2, 0.6, lambda _: None)
        await client.close()
    assert barge.first_audio_at > turn.voiced_at
    assert barge.speech_at is not None
    assert barge.speech_at - barge.first_audio_at >= 0.2
    if cancels:
        assert barge.stopped_at is not None
        assert 0 <= barge.stopped_at - barge.speech_at < 0.3
        assert not barge.ignored
    else:
        assert barge.stopped_at is None
        assert barge.ignored


async def test_realtime_greeting_none_asks_for_no_greeting() -> None:
    seen: list[dict[str, Any]] = []
    async with ws_server(fake_realtime("answer", seen)) as url:
        client = make_client("realtime", ClientSettings(url), random.Random(0))
        await client.connect()
        assert await client.wait_greeting("none") is None
        await _speak(client)
        turn = await client.end_utterance()
        answer = await client.wait_response()
        await client.close()
    kinds = [e["type"] for e in seen if e["type"] != "input_audio_buffer.append"]
    assert kinds == ["session.update", "input_audio_buffer.commit", "response.create"]
    assert answer.first_audio_at > turn.voiced_at


async def test_realtime_auto_without_a_greeting_speaks() -> None:
    async with ws_server(fake_realtime("answer", greet=False)) as url:
        settings = ClientSettings(url, greeting_timeout_s=0.3)
        client = make_client("realtime", settings, random.Random(0))
        await client.connect()
        assert await client.wait_greeting("auto") is None
        await client.close()
