"""Calls end to end over real sockets: the backend between a test client and the fake Realtime
upstream, tools against a real Postgres, admission control, and upstream faults surfacing as the
error codes of docs/protocol.md."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from bench.stack.postgres import PostgresInfo
from mocks.backend.app import BackendServer
from tests.mocks.backend.backend_helpers import (
    FRAME,
    SILENCE,
    BackendFactory,
    CallResult,
    admin_query,
    metric_value,
    native_call,
    poll,
    put_json,
    read_response,
    twilio_call,
)

pytestmark = pytest.mark.timeout(60)


async def _outcome_recorded(postgres: PostgresInfo, session_id: str) -> str | None:
    sql = f"SELECT outcome FROM call_sessions WHERE session_id = '{session_id}'"
    value = await admin_query(postgres.admin_dsn, sql)
    return None if value is None else str(value)


async def test_native_call_end_to_end(
    make_backend: BackendFactory, upstream: Any, postgres: PostgresInfo
) -> None:
    backend = await make_backend(upstream_url=upstream.url)
    result = await native_call(backend.ws_url, "e2e-native-1", turns=2)
    assert result.ok, result.events[-3:]
    assert result.greeted
    assert result.answers == 2
    assert result.tool_calls == 2
    assert result.audio_bytes > 0
    kinds = [e["type"] for e in result.events]
    assert kinds[0] == "session.ready"
    assert kinds[-1] == "hangup"
    tools = [e["name"] for e in result.events if e["type"] == "tool_call"]
    assert tools == ["check_availability", "book_appointment"]
    booked = next(e for e in result.events if e.get("name") == "book_appointment")
    assert booked["result"]["booked"] is True

    async def logged() -> bool:
        return await _outcome_recorded(postgres, "e2e-native-1") == "completed"

    await poll(logged, 10, "the call log row")
    turns = await admin_query(
        postgres.admin_dsn, "SELECT turns FROM call_sessions WHERE session_id = 'e2e-native-1'"
    )
    assert turns == 2
    metrics = f"{backend.admin_url}/metrics"
    assert await metric_value(metrics, 'callbench_backend_calls_total{outcome="completed"}') == 1
    assert await metric_value(metrics, "callbench_backend_upstream_latency_seconds_count") >= 3


async def test_native_call_with_server_vad(make_backend: BackendFactory, upstream: Any) -> None:
    backend = await make_backend(upstream_url=upstream.url)
    result = CallResult()
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{backend.ws_url}/ws/voice/vad-1?vad=server") as ws,
    ):
        assert await read_response(ws, result, 20)
        for frame in [FRAME] * 10 + [SILENCE] * 30:  # speech, then 600 ms of silence
            await ws.send_bytes(frame)
        assert await read_response(ws, result, 20), result.events[-3:]
        await ws.send_str(json.dumps({"type": "hangup"}))
    kinds = [e["type"] for e in result.events]
    assert kinds.index("speech_started") < kinds.index("speech_stopped")
    assert result.error is None
    assert result.tool_calls == 1


async def test_twilio_legacy_mark_turns(make_backend: BackendFactory, upstream: Any) -> None:
    # ?vad=off: the caller's end_of_utterance mark ends each turn (the path before server VAD).
    backend = await make_backend(upstream_url=upstream.url)
    result = await twilio_call(backend.ws_url, turns=2)
    assert result.errors == []
    assert result.answers == 2
    assert result.media_bytes > 0
    assert [m for m in result.marks if m.startswith("response-")][:3] == [
        "response-1",
        "response-2",
        "response-3",
    ]
    assert result.close_code == 1000


async def _hold_call(ws_url: str, sid: str, http: aiohttp.ClientSession) -> Any:
    """Open a call and read its first frame (session.ready), keeping it open."""
    ws = await http.ws_connect(f"{ws_url}/ws/voice/{sid}")
    message = await ws.receive(timeout=20)
    assert json.loads(message.data)["type"] == "session.ready"
    return ws


async def test_admission_control_closes_1013(make_backend: BackendFactory, upstream: Any) -> None:
    backend = await make_backend(upstream_url=upstream.url, max_sessions=2)
    async with aiohttp.ClientSession() as http:
        held = [await _hold_call(backend.ws_url, f"adm-{i}", http) for i in range(2)]
        third = await http.ws_connect(f"{backend.ws_url}/ws/voice/adm-3")
        message = await third.receive(timeout=20)
        assert json.loads(message.data) == {
            "type": "error",
            "code": "capacity",
            "message": "server at capacity",
        }
        closing = await third.receive(timeout=20)
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert third.close_code == 1013
        assert closing.extra == "server at capacity"
        await third.close()
        for ws in held:
            await ws.close()
    assert (
        await metric_value(
            f"{backend.admin_url}/metrics", "callbench_backend_rejected_sessions_total"
        )
        == 1
    )


async def test_admission_queue_lets_one_wait(make_backend: BackendFactory, upstream: Any) -> None:
    backend = await make_backend(upstream_url=upstream.url, max_sessions=1, admission_queue=1)
    async with aiohttp.ClientSession() as http:
        first = await _hold_call(backend.ws_url, "q-1", http)
        waiting = await http.ws_connect(f"{backend.ws_url}/ws/voice/q-2")
        rejected = await http.ws_connect(f"{backend.ws_url}/ws/voice/q-3")
        message = await rejected.receive(timeout=20)
        assert json.loads(message.data)["code"] == "capacity"
        await rejected.close()
        assert backend.state.admission.waiting == 1
        await first.close()  # frees the slot for the waiting call
        message = await waiting.receive(timeout=20)
        assert json.loads(message.data)["type"] == "session.ready"
        await waiting.close()


async def test_upstream_stall_becomes_upstream_timeout(
    make_backend: BackendFactory, upstream: Any
) -> None:
    timeout = 0.6
    backend = await make_backend(upstream_url=upstream.url, upstream_timeout_s=timeout)
    await put_json(f"{upstream.admin_url}/admin/faults", {"stall": {"probability": 1.0}})
    started = time.monotonic()
    results = await asyncio.gather(*(native_call(backend.ws_url, f"stall-{i}") for i in range(3)))
    elapsed = time.monotonic() - started
    assert [r.error for r in results] == ["upstream_timeout"] * 3
    assert all(r.close_code == 1011 for r in results)
    assert timeout <= elapsed < timeout + 8
    metrics = f"{backend.admin_url}/metrics"
    assert (
        await metric_value(metrics, 'callbench_backend_upstream_errors_total{kind="timeout"}') == 3
    )
    assert (
        await metric_value(metrics, 'callbench_backend_calls_total{outcome="upstream_timeout"}')
        == 3
    )


@pytest.mark.parametrize(
    ("faults", "code", "kind"),
    [
        ({"rate_limit": {"probability": 1.0}}, "upstream_rate_limited", "rate_limited"),
        ({"drop": {"probability": 1.0, "mode": "close_1011"}}, "upstream_error", "dropped"),
        ({"drop": {"probability": 1.0, "mode": "reset"}}, "upstream_error", "dropped"),
    ],
)
async def test_in_session_faults_surface(
    make_backend: BackendFactory, upstream: Any, faults: dict[str, Any], code: str, kind: str
) -> None:
    backend = await make_backend(upstream_url=upstream.url)
    await put_json(f"{upstream.admin_url}/admin/faults", faults)
    result = await native_call(backend.ws_url, f"fault-{kind}")
    assert result.error == code
    assert result.close_code == 1011
    sample = f'callbench_backend_upstream_errors_total{{kind="{kind}"}}'
    assert await metric_value(f"{backend.admin_url}/metrics", sample) == 1


async def test_handshake_429_without_retries_fails_calls(
    make_backend: BackendFactory, upstream: Any
) -> None:
    backend = await make_backend(upstream_url=upstream.url, upstream_retries="none")
    await put_json(f"{upstream.admin_url}/admin/faults", {"handshake_429": {"probability": 1.0}})
    results = await asyncio.gather(*(native_call(backend.ws_url, f"r429-{i}") for i in range(3)))
    assert [r.error for r in results] == ["upstream_rate_limited"] * 3
    metrics = f"{backend.admin_url}/metrics"
    rate_limited = 'callbench_backend_upstream_errors_total{kind="rate_limited"}'
    assert await metric_value(metrics, rate_limited) == 3


async def test_handshake_429_with_backoff_succeeds(
    make_backend: BackendFactory, upstream: Any
) -> None:
    backend = await make_backend(
        upstream_url=upstream.url,
        upstream_retries="backoff",
        upstream_max_retries=10,
        upstream_backoff_base_s=0.01,
        seed=3,
    )
    await put_json(f"{upstream.admin_url}/admin/faults", {"handshake_429": {"probability": 0.5}})
    results = await asyncio.gather(
        *(native_call(backend.ws_url, f"b429-{i}", turns=1) for i in range(6))
    )
    assert all(r.ok for r in results), [r.error for r in results]
    rate_limited = 'callbench_backend_upstream_errors_total{kind="rate_limited"}'
    assert await metric_value(f"{backend.admin_url}/metrics", rate_limited) >= 1


async def test_refused_upstream_is_upstream_error(make_backend: BackendFactory) -> None:
    backend = await make_backend(
        upstream_url="ws://127.0.0.1:1/v1/realtime",
        upstream_max_retries=2,
        upstream_backoff_base_s=0.01,
    )
    result = await native_call(backend.ws_url, "refused-1")
    assert result.error == "upstream_error"
    assert result.close_code == 1011
    refused = 'callbench_backend_upstream_errors_total{kind="refused"}'
    assert await metric_value(f"{backend.admin_url}/metrics", refused) == 3


async def test_leaked_db_connections_exhaust_the_pool(
    make_backend: BackendFactory, upstream: Any
) -> None:
    backend = await make_backend(
        upstream_url=upstream.url,
        db_pool_min=0,
        db_pool_max=3,
        db_acquire_timeout_s=0.3,
        leak_db_connections=True,
    )
    results = [await native_call(backend.ws_url, f"dbleak-{i}", turns=1) for i in range(3)]
    assert results[-1].error == "db_unavailable"
    timeouts = 'callbench_backend_db_errors_total{kind="acquire_timeout"}'
    assert await metric_value(f"{backend.admin_url}/metrics", timeouts) >= 1
    # The reset hands the leaked connections back; then the bug is switched off.
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{backend.admin_url}/admin/reset") as r,
    ):
        assert r.status == 200
    assert backend.state.db.stats()[1] >= 1  # idle again
    await put_json(
        f"{backend.admin_url}/admin/config",
        {"leak_db_connections": False, "db_acquire_timeout_s": 2.0},
    )
    after = await native_call(backend.ws_url, "dbleak-after", turns=1)
    assert after.ok, after.error


async def test_leaked_upstream_sockets_stay_open(
    make_backend: BackendFactory, upstream: Any
) -> None:
    backend = await make_backend(upstream_url=upstream.url, leak_upstream_sockets=True)
    for i in range(2):
        assert (await native_call(backend.ws_url, f"sockleak-{i}", turns=1)).ok
    leaked = backend.state.leaks.upstream_sockets

    async def both_leaked() -> bool:
        return len(leaked) == 2

    await poll(both_leaked, 10, "two leaked sockets")
    assert not any(ws.closed for ws in leaked)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{backend.url}/debug/memory") as r,
    ):
        assert (await r.json())["leaked_upstream_sockets"] == 2
    # The reset closes them (else the upstream would wait on them when it shuts down).
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{backend.admin_url}/admin/reset") as r,
    ):
        assert r.status == 200
    assert backend.state.leaks.upstream_sockets == []


async def test_error_messages_hide_traces_by_default(make_backend: BackendFactory) -> None:
    backends: list[BackendServer] = [
        await make_backend(upstream_url="ws://127.0.0.1:1/v1/realtime", upstream_retries="none"),
        await make_backend(
            upstream_url="ws://127.0.0.1:1/v1/realtime",
            upstream_retries="none",
            expose_stack_traces=True,
        ),
    ]
    hidden, shown = [await native_call(b.ws_url, "trace") for b in backends]
    message = next(e["message"] for e in hidden.events if e["type"] == "error")
    assert "Traceback" not in message
    message = next(e["message"] for e in shown.events if e["type"] == "error")
    assert "Traceback" in message
