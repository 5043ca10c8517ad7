"""The backend against the fake upstream as OpenAI serves it in 2026: the beta shape
(``upstream_api=beta``) refused in-band, and sessions ended at a maximum duration — a new session
opened (``upstream_reconnect``, the default) or the call lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mocks.backend.upstream_shape import handshake_headers, session_update
from mocks.realtime.server import RealtimeServer
from tests.mocks.backend.backend_helpers import BackendFactory, metric_value, native_call
from tests.mocks.backend.twilio_line import twilio_line_call

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def short_sessions() -> AsyncIterator[Any]:
    """Sessions end after 2.5 s, well inside a three-turn call."""
    faults = {"session_max_duration": {"seconds": 2.5}}
    async with RealtimeServer(faults, seed=1, greeting_ms=200, answer_ms=300) as server:
        yield server


def test_the_ga_shape_carries_no_beta_header_and_no_beta_fields() -> None:
    assert "OpenAI-Beta" not in handshake_headers("ga", "k")
    session = session_update("gpt-realtime", "audio/pcmu", True, [])["session"]
    assert session["type"] == "realtime"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert not {"input_audio_format", "modalities", "voice", "turn_detection"} & set(session)
    beta = session_update("gpt-realtime", "audio/pcmu", True, [], api="beta")["session"]
    assert beta["input_audio_format"] == "g711_ulaw"
    assert handshake_headers("beta", "k")["OpenAI-Beta"] == "realtime=v1"


async def test_beta_shape_is_refused_and_the_caller_told(
    make_backend: BackendFactory, upstream: Any
) -> None:
    backend = await make_backend(upstream_url=upstream.url, upstream_api="beta")
    result = await native_call(backend.ws_url, "beta-1", turns=1)
    errors = [e for e in result.events if e.get("type") == "error"]
    assert [e["code"] for e in errors] == ["upstream_api_refused"], result.events
    assert "beta_api_shape_disabled" in errors[0]["message"]
    sample = 'callbench_backend_upstream_errors_total{kind="api_refused"}'
    assert await metric_value(backend.admin_url + "/metrics", sample) == 1


async def test_a_legacy_upstream_still_serving_beta_is_understood(
    make_backend: BackendFactory,
) -> None:
    # The beta event names (response.audio.delta ...) are read as well as the GA ones.
    async with RealtimeServer(seed=1, greeting_ms=200, answer_ms=300, legacy_beta=True) as old:
        backend = await make_backend(upstream_url=old.url, upstream_api="beta")
        result = await twilio_line_call(backend.ws_url, turns=1)
    assert result.errors == [], result
    assert result.answers == 1


async def test_expired_session_without_reconnect_loses_the_call(
    make_backend: BackendFactory, short_sessions: Any
) -> None:
    backend = await make_backend(upstream_url=short_sessions.url, upstream_reconnect=False)
    result = await twilio_line_call(backend.ws_url, turns=3)
    assert "upstream_session_expired" in result.errors, result
    assert result.answers < 3


async def test_expired_session_is_reopened_and_the_call_goes_on(
    make_backend: BackendFactory, short_sessions: Any
) -> None:
    # Three callers streaming their line all the time: frames keep arriving while a new session
    # opens, and must reach it (held, then replayed), not fail the call.
    backend = await make_backend(upstream_url=short_sessions.url)
    results = await asyncio.gather(*(twilio_line_call(backend.ws_url, turns=3) for _ in range(3)))
    for result in results:
        assert result.errors == [], result
        assert result.answers == 3
    sample = 'callbench_backend_upstream_errors_total{kind="session_expired"}'
    assert await metric_value(backend.admin_url + "/metrics", sample) >= 6
