"""CallWorkload against scripted local upstreams: every metric of a call lands in the real
metrics store, function calls are answered, failures are recorded (never raised), the config
reports every problem at once, and setup refuses an unreachable target."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from generator.errors import InvalidInput, TargetUnreachable
from generator.metrics.store import MetricsStore
from generator.workloads.base import IterationContext
from generator.workloads.call import CallConfig, CallWorkload
from tests.generator.protocols.call_fakes import fake_realtime, ws_server
from tests.support.ports import closed_port

TAGS = {"protocol": "realtime", "workload": "calls"}


def _ctx(store: MetricsStore, iteration: int = 0) -> IterationContext:
    return IterationContext(
        vu=0,
        iteration=iteration,
        intended_start=time.monotonic(),
        store=store,
        rng=random.Random(iteration),
    )


def _workload(url: str, **overrides: Any) -> CallWorkload:
    config: dict[str, Any] = {
        "url": url,
        "protocol": "realtime",
        "turns": 2,
        "utterance_ms": 100,
        "response_timeout_s": 2.0,
        "greeting_timeout_s": 2.0,
    }
    return CallWorkload(CallConfig(**(config | overrides)))


async def test_a_call_records_every_metric() -> None:
    store = MetricsStore()
    async with ws_server(fake_realtime()) as url:
        workload = _workload(url)
        await workload.setup()
        await workload.iteration(_ctx(store))
        await workload.teardown()
    assert store.counter_by("calls_total", "outcome") == {"succeeded": 1, "failed": 0}
    assert store.rate("call_success").rate == 1.0
    for name, count in [
        ("connect_time", 1),
        ("greeting_latency", 1),
        ("turn_latency", 2),
        ("response_time", 2),
        ("audio_gap", 3),
        ("send_lag", 2 * 5),  # 100 ms = 5 frames per turn
        ("call_duration", 1),
    ]:
        stats = store.trend(name, TAGS)
        assert stats.count == count, (name, stats)
        assert 0 <= stats.max < 1000, (name, stats)
    assert store.counter("errors_total") == 0


async def test_function_calls_are_answered() -> None:
    seen: list[dict[str, Any]] = []
    store = MetricsStore()
    async with ws_server(fake_realtime("function_call", seen)) as url:
        await _workload(url, turns=1, realtime_tools=True).iteration(_ctx(store))
    assert store.counter("calls_total", {"outcome": "succeeded"}) == 1, store.tag_sets(
        "errors_total"
    )
    update = next(e for e in seen if e["type"] == "session.update")
    assert {t["name"] for t in update["session"]["tools"]} == {
        "check_availability",
        "book_appointment",
    }
    assert update["session"]["audio"]["input"]["turn_detection"] is None
    items = [e["item"] for e in seen if e["type"] == "conversation.item.create"]
    assert len(items) == 1
    assert items[0]["type"] == "function_call_output"
    assert items[0]["call_id"] == "call_1"
    assert json.loads(items[0]["output"])["available"] is True
    # commit, response.create (the function call), response.create (after its output)
    kinds = [e["type"] for e in seen if e["type"] != "input_audio_buffer.append"]
    assert kinds[-3:] == ["response.create", "conversation.item.create", "response.create"]


async def test_failures_are_recorded_not_raised() -> None:
    store = MetricsStore()
    async with ws_server(fake_realtime("stall")) as url:
        await _workload(url, response_timeout_s=0.2).iteration(_ctx(store))
    await _workload(f"ws://127.0.0.1:{closed_port()}").iteration(_ctx(store, 1))
    assert store.counter_by("calls_total", "outcome") == {"succeeded": 0, "failed": 2}
    assert store.counter_by("errors_total", "kind") == {"response_timeout": 1, "refused": 1}
    assert store.rate("call_success").rate == 0.0
    assert store.trend("connect_time").count == 1  # only the call that connected
    assert store.trend("call_duration").count == 0


async def test_setup_refuses_an_unreachable_target() -> None:
    port = closed_port()
    with pytest.raises(TargetUnreachable, match=f"127.0.0.1:{port}"):
        await _workload(f"ws://127.0.0.1:{port}").setup()


def test_config_reports_every_problem_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        CallConfig(url="http://x", protocol="sip", turns=-1, utterance_ms=0)  # type: ignore[arg-type]
    assert {e["loc"][0] for e in info.value.errors()} == {
        "url",
        "protocol",
        "turns",
        "utterance_ms",
    }


def test_audio_is_encoded_once_per_workload(tmp_path: Path) -> None:
    workload = _workload("ws://127.0.0.1:9", protocol="twilio", turns=3, utterance_ms=200)
    assert len(workload.utterances) == 3
    assert all(len(u.frames) == 10 for u in workload.utterances)  # 200 ms = 10 frames of 20 ms
    assert all(0 <= u.first_voiced <= u.last_voiced < 10 for u in workload.utterances)
    assert workload.utterances[0] != workload.utterances[1]
    again = _workload("ws://127.0.0.1:9", protocol="twilio", turns=3, utterance_ms=200)
    assert again.utterances == workload.utterances  # seeded
    with pytest.raises(InvalidInput):
        _workload("ws://127.0.0.1:9", audio_file=str(tmp_path / "missing.wav"))
