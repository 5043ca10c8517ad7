"""The shared pacer (`play_paced`): many streams on one timer keep the absolute 20 ms schedule;
a frame ``write_now`` declines goes out through ``send``, in order, once; a failing or cancelled
stream leaves the others alone. And `write_text`'s hand-built frames are frames a websockets
server reads."""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection

from generator.audio import synth_speech
from generator.protocols import encode_audio, make_client, pacing
from generator.protocols.base import ClientSettings
from generator.protocols.pacing import FRAME_S, pacer_for, play_paced, ready, write_text
from tests.generator.protocols.call_fakes import fake_twilio, ws_server

FRAMES = 50


class Wire:
    """A stream's frames as they went out: (k, how, clock time)."""

    def __init__(self, decline: frozenset[int] = frozenset()) -> None:
        self.sent: list[tuple[int, str, float]] = []
        self.lags: list[float] = []
        self.decline = decline
        self.tenth = asyncio.Event()

    def write_now(self, k: int, _frame: int, _due: float) -> bool:
        if k in self.decline:
            return False
        self.sent.append((k, "now", time.monotonic()))
        if len(self.sent) == 10:
            self.tenth.set()
        return True

    async def send(self, k: int, _frame: int, _due: float) -> None:
        await asyncio.sleep(0)  # an awaiting send yields to the loop
        self.sent.append((k, "send", time.monotonic()))


async def _play(wire: Wire, frames: int = FRAMES, clock: Any = time.monotonic) -> float:
    return await play_paced(
        list(range(frames)), wire.write_now, wire.send, clock=clock, on_lag=wire.lags.append
    )


async def test_many_streams_keep_the_schedule_on_one_pacer() -> None:
    wires = [Wire() for _ in range(20)]
    async with asyncio.timeout(10):
        t0s = await asyncio.gather(*(_play(w) for w in wires))
    assert pacer_for(time.monotonic) is pacer_for(time.monotonic)
    for t0, wire in zip(t0s, wires, strict=True):
        assert [k for k, _how, _at in wire.sent] == list(range(FRAMES))
        assert len(wire.lags) == FRAMES
        assert all(lag >= 0 for lag in wire.lags)
        # Two busy cores shared by several test runs: typical lag stays at a few ms.
        assert statistics.median(wire.lags) < 0.005
        # Never more than the timer's slack early, and no drift to the last frame.
        offsets = [at - t0 - k * FRAME_S for k, _how, at in wire.sent]
        assert min(offsets) > -pacing.SLACK_S - 1e-4
        assert offsets[-1] < 0.03


async def test_declined_frames_go_through_send_in_order_once() -> None:
    wire = Wire(decline=frozenset({0, 3, 4, 17, FRAMES - 1}))
    async with asyncio.timeout(10):
        await _play(wire)
    assert [k for k, _how, _at in wire.sent] == list(range(FRAMES))
    assert {k for k, how, _at in wire.sent if how == "send"} == wire.decline
    assert len(wire.lags) == FRAMES


async def test_a_failing_stream_raises_and_the_others_play_on() -> None:
    class Broken(Wire):
        def write_now(self, k: int, frame: int, due: float) -> bool:
            if k == 5:
                raise ConnectionResetError("gone")
            return super().write_now(k, frame, due)

    broken, fine = Broken(), Wire()
    async with asyncio.timeout(10):
        results = await asyncio.gather(_play(broken), _play(fine), return_exceptions=True)
    assert isinstance(results[0], ConnectionResetError)
    assert len(broken.sent) == 5
    assert [k for k, _how, _at in fine.sent] == list(range(FRAMES))


async def test_a_cancelled_stream_is_dropped() -> None:
    gone, fine = Wire(), Wire()
    task = asyncio.create_task(_play(gone))
    other = asyncio.create_task(_play(fine))
    async with asyncio.timeout(5):
        await gone.tenth.wait()
    task.cancel()
    sent_at_cancel = len(gone.sent)
    async with asyncio.timeout(10):
        await other
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(gone.sent) == sent_at_cancel < FRAMES
    assert len(fine.sent) == FRAMES


async def test_a_late_batch_is_caught_up_not_carried_forward() -> None:
    jump = 0.0

    def clock() -> float:
        return time.monotonic() + jump

    class Hiccup(Wire):
        def write_now(self, k: int, frame: int, due: float) -> bool:
            nonlocal jump
            if k == 10:
                jump = 0.1  # the generator stalled 100 ms, as the clock sees it
            return super().write_now(k, frame, due)

    wire = Hiccup()
    async with asyncio.timeout(10):
        await _play(wire, clock=clock)
    assert wire.lags[10] >= 0.09  # the stall is measured...
    assert wire.lags[11] >= 0.07  # ...the frames due during it go out at once...
    assert statistics.median(wire.lags[20:]) < 0.005  # ...and the schedule is back on time


async def test_a_tick_over_its_budget_lets_the_loop_run_before_the_rest() -> None:
    readings = itertools.count()

    def clock() -> float:
        return next(readings) * 0.001  # every reading 1 ms later: a generator far behind

    loop = asyncio.get_running_loop()
    order: list[str] = []

    def write_now(_k: int, _frame: int, _due: float) -> bool:
        if not order:  # stands for a reply arriving while the tick runs
            loop.call_soon(order.append, "loop")
        order.append("frame")
        return True

    async def send(_k: int, _frame: int, _due: float) -> None:
        raise AssertionError("write_now takes every frame")

    async with asyncio.timeout(10):
        await asyncio.gather(
            *(
                play_paced([0], write_now, send, clock=clock, on_lag=lambda _: None)
                for _ in range(20)
            )
        )
    assert order.count("frame") == 20
    assert order.index("loop") < 10  # the loop got its turn well before the last due frame


@pytest.mark.parametrize("size", [1, 125, 126, 300, 65535, 65536, 70_000])
async def test_write_text_frames_are_read_by_a_websockets_server(size: int) -> None:
    rng = random.Random(size)
    texts = ["".join(rng.choice("abcé€") for _ in range(size)) for _ in range(3)]
    got: list[str | bytes] = []
    done = asyncio.Event()

    async def sink(ws: ServerConnection) -> None:
        async for message in ws:
            got.append(message)
            if len(got) == len(texts):
                done.set()

    async with ws_server(sink, max_size=None) as url, connect(url, compression=None) as ws:
        for text in texts:
            assert ready(ws)
            write_text(ws, text.encode())
        async with asyncio.timeout(10):
            await done.wait()
    assert got == texts


async def test_twilio_media_stays_numbered_when_frames_fall_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every other frame declined (as with a paused transport): sequence numbers, chunks and
    timestamps still count up one frame at a time."""
    flips = itertools.cycle([True, False])
    monkeypatch.setattr("generator.protocols.twilio.ready", lambda _ws: next(flips))
    seen: list[tuple[float, dict[str, Any]]] = []
    utterance = encode_audio("twilio", synth_speech(120, seed=3))  # 6 frames of speech
    async with ws_server(fake_twilio(seen)) as url:
        settings = ClientSettings(url, quiet_gap_s=0.1)
        client = make_client("twilio", settings, random.Random(0))
        async with asyncio.timeout(10):
            await client.connect()
            await client.wait_greeting("wait")
            lags: list[float] = []
            await client.send_utterance(utterance, lags.append)
            await client.end_utterance()
            await client.wait_response()
            await client.hangup()
    events = [e for _t, e in seen]
    media = [e for e in events if e["event"] == "media"]
    assert [e["media"]["chunk"] for e in media] == [str(k) for k in range(1, len(media) + 1)]
    stamps = [int(e["media"]["timestamp"]) for e in media]
    assert {b - a for a, b in itertools.pairwise(stamps)} == {20}
    numbers = [int(e["sequenceNumber"]) for e in events if "sequenceNumber" in e]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(lags) == 6
