"""The call workload's turn bookkeeping with a scripted client in place of a protocol: an
'answer' that began before the caller's turn ended fails the call as protocol_error with the
evidence and records no latency; greeting modes; voice-to-voice timing and end_of_turn_delay;
barge-in metrics; the seeded barge-in draw."""

from __future__ import annotations

import random
from typing import Any

import pytest

import generator.workloads.call as call_module
from generator.metrics.store import MetricsStore
from generator.protocols.base import (
    BargeIn,
    GreetingMode,
    LagSink,
    ResponseTiming,
    TurnEnd,
    Utterance,
)
from generator.workloads.base import IterationContext
from generator.workloads.call import CallConfig, CallWorkload


class ScriptedClient:
    """A CallClient whose times are given: turn k ends (last voiced frame) at 10k + 1 s and its
    answer's first audio comes ``answer_delay_s`` later (negative: before the turn ended)."""

    protocol = "native"

    def __init__(self, answer_delay_s: float, greeting: bool, speech_stopped: bool) -> None:
        self.answer_delay_s = answer_delay_s
        self.greeting = greeting
        self.speech_stopped = speech_stopped
        self.turn = -1
        self.modes: list[GreetingMode] = []
        self.barge_ins: list[tuple[float, float]] = []

    async def connect(self) -> float:
        return 0.0

    async def wait_greeting(self, mode: GreetingMode) -> ResponseTiming | None:
        self.modes.append(mode)
        if not self.greeting or mode == "none":
            return None
        return ResponseTiming(0.25, 0.5, 0.25, 0.05, 0.5)

    async def send_utterance(self, utterance: Utterance, on_lag: LagSink) -> None:
        self.turn += 1
        for _ in utterance.frames:
            on_lag(0.0)

    async def end_utterance(self) -> TurnEnd:
        voiced = 10.0 * self.turn + 1.0
        return TurnEnd(voiced, voiced + 0.02)

    async def wait_response(self) -> ResponseTiming:
        first = 10.0 * self.turn + 1.0 + self.answer_delay_s
        stopped = 10.0 * self.turn + 1.2 if self.speech_stopped else None
        return ResponseTiming(first, first + 0.3, 0.3, 0.02, first + 0.4, 0, stopped)

    async def barge_in(
        self, utterance: Utterance, after_s: float, bound_s: float, on_lag: LagSink
    ) -> BargeIn:
        self.barge_ins.append((after_s, bound_s))
        first = 10.0 * self.turn + 1.0 + self.answer_delay_s
        self.turn += 1
        return BargeIn(first, first + after_s, first + after_s + 0.15, False)

    async def hangup(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def _run(
    monkeypatch: pytest.MonkeyPatch,
    *,
    answer_delay_s: float = 0.5,
    greets: bool = True,
    speech_stopped: bool = False,
    seed: int = 0,
    **config: Any,
) -> tuple[MetricsStore, ScriptedClient]:
    client = ScriptedClient(answer_delay_s, greets, speech_stopped)
    monkeypatch.setattr(call_module, "make_client", lambda *_a, **_k: client)
    workload = CallWorkload(CallConfig(url="ws://127.0.0.1:9", utterance_ms=100, **config))
    store = MetricsStore()
    ctx = IterationContext(
        vu=0, iteration=0, intended_start=0.0, store=store, rng=random.Random(seed)
    )
    await workload.iteration(ctx)
    return store, client


async def test_an_answer_before_the_turn_ended_fails_the_call_and_records_no_latency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, _client = await _run(monkeypatch, answer_delay_s=-1.437)
    assert store.counter_by("calls_total", "outcome") == {"succeeded": 0, "failed": 1}
    assert store.tag_sets("errors_total") == [
        {
            "kind": "protocol_error",
            "reason": "answer_before_turn_end",
            "protocol": "native",
            "workload": "calls",
        }
    ]
    assert store.trend("turn_latency").count == 0
    assert store.trend("response_time").count == 0


async def test_turns_are_timed_voice_to_voice(monkeypatch: pytest.MonkeyPatch) -> None:
    store, client = await _run(monkeypatch, answer_delay_s=0.5, speech_stopped=True)
    assert store.counter("calls_total", {"outcome": "succeeded"}) == 1
    assert client.modes == ["auto"]  # the default
    turn, response = store.trend("turn_latency"), store.trend("response_time")
    assert turn.count == 2
    assert turn.min == pytest.approx(500, abs=1)
    assert response.min == pytest.approx(800, abs=1)
    assert store.trend("end_of_turn_delay").min == pytest.approx(200, abs=1)
    assert store.trend("greeting_latency").count == 1


async def test_no_greeting_records_no_greeting_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    store, client = await _run(monkeypatch, greets=False)
    assert store.counter("calls_total", {"outcome": "succeeded"}) == 1
    assert store.trend("greeting_latency").count == 0
    assert store.trend("end_of_turn_delay").count == 0  # not shown: not recorded
    store, client = await _run(monkeypatch, greets=True, greeting="none")
    assert client.modes == ["none"]
    assert store.trend("greeting_latency").count == 0


async def test_barge_in_records_the_reaction(monkeypatch: pytest.MonkeyPatch) -> None:
    barge = {"probability": 1.0, "after_ms": 300, "bound_ms": 1500}
    store, client = await _run(monkeypatch, turns=3, barge_in=barge)
    assert store.counter("calls_total", {"outcome": "succeeded"}) == 1
    # Turn 0 barges into its answer with utterance 1, turn 1 into its answer with utterance 2;
    # the last turn has no next utterance, so it hears its answer out.
    assert client.barge_ins == [(0.3, 1.5), (0.3, 1.5)]
    assert store.trend("barge_in_reaction").count == 2
    assert store.trend("barge_in_reaction").min == pytest.approx(150, abs=1)
    assert store.counter("barge_in_ignored") == 0
    assert store.trend("turn_latency").count == 3


async def test_the_barge_in_draw_is_seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    barge = {"probability": 0.5}
    runs = []
    for seed in (1, 1, 2, 3, 4):
        _store, client = await _run(monkeypatch, turns=12, barge_in=barge, seed=seed)
        runs.append(len(client.barge_ins))
    assert runs[0] == runs[1]
    assert len(set(runs)) > 1  # and it is a draw, not a constant
