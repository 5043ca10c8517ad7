"""The calls benchmark's two other ends (benchmarks/twilio_sink.py) on loopback: the sink reads
the end of the caller's turn from the stream as a server-VAD backend does, callbench's own
Twilio caller gets its answer from it with the benchmark's scenario, and the plain peer streams
as callbench does — speech then silence on one 20 ms schedule, the answer's mark echoed, `stop`
after the quiet gap."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection

from benchmarks import realtime, twilio_sink
from benchmarks.common import python_server
from benchmarks.twilio_sink import END_OF_TURN_FRAMES, FRAME_S, SILENCE, VOICE, TurnEnds
from generator.audio import synth_speech
from generator.metrics.store import MetricsStore
from generator.protocols.twilio_wire import SILENCE_PAYLOAD, encode_twilio
from generator.workloads.base import IterationContext
from generator.workloads.call import CallConfig, CallWorkload
from tests.generator.protocols.call_fakes import ws_server


def _media(payload: str, spaced: bool = False) -> str:
    event = {"event": "media", "sequenceNumber": "2", "media": {"payload": payload}}
    return json.dumps(event) if spaced else json.dumps(event, separators=(",", ":"))


def test_the_sink_ends_a_turn_after_a_run_of_silence_that_follows_voice() -> None:
    turns = TurnEnds()
    assert not any(turns.ended(_media(SILENCE)) for _ in range(3 * END_OF_TURN_FRAMES))
    assert not turns.ended(_media(VOICE))
    found = [turns.ended(_media(SILENCE)) for _ in range(END_OF_TURN_FRAMES)]
    assert found == [False] * (END_OF_TURN_FRAMES - 1) + [True]
    # Once answered, more silence is not another turn; voice then silence is.
    assert not any(turns.ended(_media(SILENCE)) for _ in range(3 * END_OF_TURN_FRAMES))
    assert not turns.ended(_media(VOICE, spaced=True))
    found = [turns.ended(_media(SILENCE, spaced=True)) for _ in range(END_OF_TURN_FRAMES)]
    assert found[-1]
    assert not any(found[:-1])


def test_a_pause_inside_speech_or_another_event_does_not_end_the_turn() -> None:
    turns = TurnEnds()
    turns.ended(_media(VOICE))
    for _ in range(END_OF_TURN_FRAMES - 1):
        assert not turns.ended(_media(SILENCE))
    assert not turns.ended(_media(VOICE))  # speech again: the silence count starts over
    for _ in range(END_OF_TURN_FRAMES - 1):
        assert not turns.ended(_media(SILENCE))
    # Events that are not media (an echo, the stop) neither count as silence nor reset it.
    assert not turns.ended(json.dumps({"event": "mark", "mark": {"name": SILENCE}}))
    assert not turns.ended('{"event":"stop","sequenceNumber":"9","stop":{}}')
    assert turns.ended(_media(SILENCE))


def test_the_sinks_silence_is_callbenchs_and_outlasts_the_pauses_of_its_speech() -> None:
    assert SILENCE == SILENCE_PAYLOAD
    assert VOICE != SILENCE
    assert len(VOICE) == len(SILENCE)  # the same frame size on the wire
    for seed in [*range(10), 1000]:  # the benchmark's scenario speaks seed 1000
        frames = encode_twilio(synth_speech(5000, seed))
        silent = itertools.groupby(frames, key=lambda frame: frame == SILENCE)
        longest = max((len(list(run)) for quiet, run in silent if quiet), default=0)
        assert longest < END_OF_TURN_FRAMES, (seed, longest)


async def test_callbench_with_the_benchmarks_scenario_gets_its_answer_from_the_sink() -> None:
    store = MetricsStore()
    async with ws_server(twilio_sink.handle) as url:
        scenario: Any = realtime.calls_scenario(url, 1, 1)
        config = scenario["workloads"]["calls"]["config"] | {"utterance_ms": 400}
        workload = CallWorkload(CallConfig(**config))
        ctx = IterationContext(0, 0, time.monotonic(), store, random.Random(1))
        await workload.iteration(ctx)
    tags = {"protocol": "twilio", "workload": "calls"}
    assert store.counter_by("calls_total", "outcome") == {"succeeded": 1, "failed": 0}, (
        store.tag_sets("errors_total")
    )
    lag = store.trend("send_lag", tags)
    assert lag.count == len(workload.utterances[0].frames)
    latency = store.trend("turn_latency", tags)
    assert latency.count == 1
    # The sink's VAD waited for its run of silence, counted from when the last voiced frame was
    # due; the turn is timed from when it went out, at most the worst send_lag later.
    assert latency.min >= END_OF_TURN_FRAMES * FRAME_S * 1000 - lag.max - 1
    assert store.trend("greeting_latency", tags).count == 0


async def test_the_plain_peer_streams_speech_then_silence_echoes_the_mark_and_stops() -> None:
    seen: list[tuple[float, dict[str, Any]]] = []

    async def recording_sink(ws: ServerConnection) -> None:
        turns = TurnEnds()
        async for message in ws:
            assert isinstance(message, str)
            seen.append((time.monotonic(), json.loads(message)))
            if turns.ended(message):
                await ws.send(twilio_sink.ANSWER)
                await ws.send(twilio_sink.MARK)

    lags: list[float] = []
    seconds = 0.3
    async with ws_server(recording_sink) as url:
        await twilio_sink.caller(url, seconds, lags)
    events = [event for _at, event in seen]
    kinds = [event["event"] for event in events]
    assert kinds[:2] == ["connected", "start"]
    assert kinds[-1] == "stop"
    assert kinds.count("mark") == 1
    assert set(kinds[2:-1]) == {"media", "mark"}
    speech = round(seconds / FRAME_S)
    payloads = [e["media"]["payload"] for e in events if e["event"] == "media"]
    assert payloads[:speech] == [VOICE] * speech
    assert set(payloads[speech:]) == {SILENCE}
    assert len(lags) == speech  # only the speech frames' lag, as callbench's send_lag
    # The mark comes after the turn's end (and its answer), and the stop a quiet gap after it.
    echo = kinds.index("mark")
    assert payloads.index(SILENCE) + END_OF_TURN_FRAMES <= echo - 2
    assert seen[-1][0] - seen[echo][0] >= twilio_sink.QUIET_GAP_S - FRAME_S
    sequence = [int(str(e["sequenceNumber"])) for e in events[1:]]
    assert sequence == list(range(1, len(events)))
    chunks = [e["media"] for e in events if e["event"] == "media"]
    assert [int(c["timestamp"]) for c in chunks] == [20 * (int(c["chunk"]) - 1) for c in chunks]


async def test_the_plain_peer_fails_a_call_nobody_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twilio_sink, "RESPONSE_TIMEOUT_S", 0.1)

    async def deaf(ws: ServerConnection) -> None:
        async for _message in ws:
            pass

    async with ws_server(deaf) as url:
        with pytest.raises(RuntimeError, match="no answer within"):
            await asyncio.wait_for(twilio_sink.caller(url, 0.1, []), 10)


async def test_the_plain_client_reports_every_calls_speech_frames(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with ws_server(twilio_sink.handle) as url:
        await twilio_sink.client(url, 2, 0.2, 0.1)
    found = json.loads(capsys.readouterr().out)
    assert found["failed"] == 0
    assert found["frames"] == 2 * round(0.2 / FRAME_S)
    assert found["p99"] >= 0


@contextlib.asynccontextmanager
async def raw_sink() -> AsyncIterator[str]:
    """The benchmark's sink as it runs: `twilio_sink.py PORT`, its own process on uvloop
    (whose transports are not asyncio's classes)."""
    with python_server("twilio_sink.py") as port:
        yield f"ws://127.0.0.1:{port}"


async def test_the_raw_sink_answers_callbench_and_the_plain_peer_as_the_websockets_one() -> None:
    store = MetricsStore()
    async with raw_sink() as url:
        scenario: Any = realtime.calls_scenario(url, 1, 1)
        config = scenario["workloads"]["calls"]["config"] | {"utterance_ms": 400}
        workload = CallWorkload(CallConfig(**config))
        ctx = IterationContext(0, 0, time.monotonic(), store, random.Random(1))
        await workload.iteration(ctx)
        lags: list[float] = []
        await twilio_sink.caller(url, 0.3, lags)
    assert store.counter_by("calls_total", "outcome") == {"succeeded": 1, "failed": 0}, (
        store.tag_sets("errors_total")
    )
    latency = store.trend("turn_latency", {"protocol": "twilio", "workload": "calls"})
    assert latency.count == 1
    assert latency.min >= END_OF_TURN_FRAMES * FRAME_S * 1000 - 20
    assert len(lags) == round(0.3 / FRAME_S)


async def test_the_raw_sink_reads_fragments_answers_pings_and_echoes_the_close() -> None:
    async with raw_sink() as url, connect(url, compression=None) as ws:
        pong = await ws.ping(b"hi")
        async with asyncio.timeout(5):
            await pong
        await ws.send(_media(VOICE))
        silence = _media(SILENCE)
        for _ in range(END_OF_TURN_FRAMES - 1):
            await ws.send(silence)
        await ws.send(iter([silence[:10], silence[10:40], silence[40:]]))  # one message, 3 frames
        async with asyncio.timeout(5):
            assert json.loads(await ws.recv())["event"] == "media"
            assert json.loads(await ws.recv())["mark"] == {"name": "reply"}
        await ws.close(1000, "bye")
    assert ws.close_code == 1000  # the sink's echo of the code, not an abnormal 1006


async def test_the_raw_sink_refuses_a_request_that_is_not_a_websocket_handshake() -> None:
    async with raw_sink() as url:
        host, port = url.removeprefix("ws://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        async with asyncio.timeout(5):
            status = await reader.readline()
            assert status.startswith(b"HTTP/1.1 400")
            await reader.read()  # the sink hangs up
        writer.close()
