"""Native and Twilio calls against the real mock backend (mocks.backend.app.BackendServer), with
the real fake Realtime upstream behind it and a throwaway Postgres: calls succeed with every
metric recorded, and the backend's admission control comes out as `server_capacity`."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from bench.errors import StackError
from bench.stack.postgres import start_postgres, stop_postgres
from generator.metrics.store import MetricsStore
from generator.workloads.base import IterationContext
from generator.workloads.call import CallConfig, CallWorkload
from mocks.backend.app import BackendServer
from mocks.backend.config import BackendConfig
from mocks.realtime.server import RealtimeServer
from mocks.realtime.session_config import VadSettings


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    try:
        info = start_postgres(max_connections=20)
    except StackError as exc:
        pytest.skip(f"no Postgres here: {exc.reason}")
    try:
        yield info.dsn
    finally:
        stop_postgres(info.base_dir)


@pytest.fixture
async def upstream() -> AsyncIterator[Any]:
    async with RealtimeServer(seed=1, greeting_ms=200, answer_ms=300) as server:
        yield server


def _backend(dsn: str, upstream: Any, **knobs: Any) -> Any:
    return BackendServer(BackendConfig(db_dsn=dsn, upstream_url=upstream.url, **knobs))


def _workload(backend: Any, protocol: str) -> CallWorkload:
    config = CallConfig(
        url=backend.ws_url,
        protocol=protocol,  # type: ignore[arg-type]
        turns=2,
        utterance_ms=400,
        greeting_timeout_s=5.0,
        response_timeout_s=5.0,
    )
    return CallWorkload(config)


def _ctx(store: MetricsStore, i: int) -> IterationContext:
    return IterationContext(
        vu=i, iteration=i, intended_start=time.monotonic(), store=store, rng=random.Random(i)
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["native", "twilio"])
async def test_call_through_the_backend(postgres_dsn: str, upstream: Any, protocol: str) -> None:
    store = MetricsStore()
    async with _backend(postgres_dsn, upstream) as backend:
        workload = _workload(backend, protocol)
        await workload.setup()
        await workload.iteration(_ctx(store, 0))
    assert store.counter_by("calls_total", "outcome") == {"succeeded": 1, "failed": 0}, (
        store.tag_sets("errors_total")
    )
    tags = {"protocol": protocol, "workload": "calls"}
    for name, count in [
        ("connect_time", 1),
        ("greeting_latency", 1),
        ("turn_latency", 2),
        ("response_time", 2),
        ("audio_gap", 3),
        ("send_lag", 40),
        ("call_duration", 1),
    ]:
        assert store.trend(name, tags).count == count, name
    assert store.trend("turn_latency").min > 0


@pytest.mark.timeout(60)
async def test_backend_at_capacity(postgres_dsn: str, upstream: Any) -> None:
    store = MetricsStore()
    async with _backend(postgres_dsn, upstream, max_sessions=1, admission_queue=0) as backend:
        workload = _workload(backend, "native")
        await asyncio.gather(*(workload.iteration(_ctx(store, i)) for i in range(2)))
    assert store.counter_by("calls_total", "outcome") == {"succeeded": 1, "failed": 1}
    assert store.counter_by("errors_total", "kind") == {"server_capacity": 1}


@pytest.mark.timing
@pytest.mark.timeout(90)
async def test_twilio_voice_to_voice_is_the_vad_silence_plus_the_upstream_latency(
    postgres_dsn: str, upstream: Any
) -> None:
    # The faithful caller streams its line; the upstream's server VAD ends the turn after its
    # silence duration, the upstream answers after its injected latency: voice-to-voice is the
    # sum, as a caller on the phone lives it.
    injected_ms = 300.0
    silence_ms = float(VadSettings().silence_duration_ms)  # the fake's VAD default (OpenAI's)
    faults = {"latency": {"distribution": "fixed", "ms": injected_ms, "probability": 1.0}}
    async with (
        aiohttp.ClientSession() as http,
        http.put(upstream.admin_url + "/admin/faults", json=faults) as response,
    ):
        assert response.status == 200, await response.text()
    store = MetricsStore()
    async with _backend(postgres_dsn, upstream, db_query_ms=0) as backend:
        workload = _workload(backend, "twilio")
        await asyncio.gather(*(workload.iteration(_ctx(store, i)) for i in range(3)))
    assert store.counter_by("calls_total", "outcome") == {"succeeded": 3, "failed": 0}, (
        store.tag_sets("errors_total")
    )
    turn = store.trend("turn_latency")
    assert turn.count == 6
    # Each turn of the backend's script is a function call, then the spoken answer after the
    # tool's result: two responses, each with the injected latency (the tool's own hold is 0).
    assert abs(turn.p(50) - (silence_ms + 2 * injected_ms)) <= 20, turn


@pytest.mark.timeout(60)
async def test_native_under_server_vad_shows_the_end_of_turn_delay(
    postgres_dsn: str, upstream: Any
) -> None:
    store = MetricsStore()
    async with _backend(postgres_dsn, upstream) as backend:
        config = _workload(backend, "native").config
        vad = CallConfig(**(config.model_dump() | {"url": backend.ws_url + "/ws/voice?vad=server"}))
        await CallWorkload(vad).iteration(_ctx(store, 0))
    assert store.counter_by("calls_total", "outcome") == {"succeeded": 1, "failed": 0}, (
        store.tag_sets("errors_total")
    )
    delay = store.trend("end_of_turn_delay")
    assert delay.count == 2
    # The upstream's VAD waits its 500 ms of silence, which the caller's line sends.
    assert 460 <= delay.min <= delay.max <= 560, delay


@pytest.mark.timeout(60)
async def test_a_signed_twilio_call_passes_a_verifying_backend_and_an_unsigned_one_does_not(
    postgres_dsn: str, upstream: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "stream-token")
    store = MetricsStore()
    async with _backend(postgres_dsn, upstream, twilio_auth_token="stream-token") as backend:
        config = _workload(backend, "twilio").config
        signed = CallWorkload(CallConfig(**(config.model_dump() | {"signed": True})))
        await signed.iteration(_ctx(store, 0))
        await _workload(backend, "twilio").iteration(_ctx(store, 1))
    assert store.counter_by("calls_total", "outcome") == {"succeeded": 1, "failed": 1}
    assert store.counter_by("errors_total", "status") == {"403": 1}
