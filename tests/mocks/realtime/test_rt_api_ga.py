"""The fake upstream as OpenAI's GA Realtime API answers a client, over real sockets: HTTP 401
with OpenAI's JSON body when a key is set and the handshake lacks it (and the key, read from the
environment, never shows in the process list or the output); the beta shape refused in-band
(close 4000) unless ``--legacy-beta``; the maximum duration (close 1001) set through the admin
API as drills set it; and the official SDK completing a server-VAD turn."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from mocks.realtime.server import RealtimeServer
from tests.mocks.realtime.rt_api_helpers import (
    admin,
    b64,
    collect_until,
    of_type,
    open_session,
    recv,
    tone_pcm16,
)

KEY = "sk-test-" + "9f2c" * 6


@pytest.fixture
async def keyed() -> AsyncIterator[RealtimeServer]:
    async with RealtimeServer(api_key=KEY, greeting_ms=200, answer_ms=200) as server:
        yield server


async def handshake_status(url: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    try:
        async with connect(f"{url}?model=gpt-realtime", additional_headers=headers) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            return 101, {}
    except InvalidStatus as exc:
        response = exc.response
        assert response.headers["Content-Type"] == "application/json"
        return response.status_code, json.loads(response.body)


async def test_no_key_is_401_as_openai_answers(keyed: RealtimeServer) -> None:
    status, body = await handshake_status(keyed.url, {})
    assert status == 401
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert "didn't provide an API key" in str(error["message"])
    _, stats = await admin("GET", f"{keyed.admin_url}/admin/stats")
    assert stats["rejections"] == {"unauthorized": 1}
    assert stats["sessions"] == []
    _, metrics = await admin("GET", f"{keyed.admin_url}/metrics")
    assert "callbench_realtime_unauthorized_total 1.0" in metrics
    assert 'reason="unauthorized"' not in metrics  # the 429 rejections stay 429s


async def test_wrong_key_is_401_invalid_api_key_and_never_echoed(keyed: RealtimeServer) -> None:
    wrong = "sk-wrong-" + "a1" * 10
    status, body = await handshake_status(keyed.url, {"Authorization": f"Bearer {wrong}"})
    assert status == 401
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "invalid_api_key"
    assert wrong not in json.dumps(body)
    assert KEY not in json.dumps(body)


async def test_the_right_key_opens_the_session(keyed: RealtimeServer) -> None:
    assert (await handshake_status(keyed.url, {"Authorization": f"Bearer {KEY}"}))[0] == 101


async def test_without_a_key_any_handshake_is_served() -> None:
    async with RealtimeServer() as server:
        assert (await handshake_status(server.url, {}))[0] == 101


@pytest.mark.timeout(60)
async def test_cli_reads_the_key_from_the_environment_only_and_serves_legacy_beta() -> None:
    env = dict(os.environ, CB_TEST_UPSTREAM_KEY=KEY)
    argv = ["-m", "bench.cli", "mock", "realtime", "--port", "0", "--admin-port", "0"]
    argv += ["--api-key-env", "CB_TEST_UPSTREAM_KEY", "--legacy-beta"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.search(r"ws (\S+) admin", line)
        assert match, line
        assert (await handshake_status(match.group(1), {}))[0] == 401
        ok = await handshake_status(match.group(1), {"Authorization": f"Bearer {KEY}"})
        assert ok[0] == 101
        beta = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "realtime=v1"}
        async with connect(f"{match.group(1)}?model=gpt-realtime", additional_headers=beta) as ws:
            created = json.loads(await ws.recv())  # --legacy-beta: served, not refused
        assert created["session"]["input_audio_format"] == "pcm16"
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0
        assert KEY not in line + out.decode() + err.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_cli_with_an_unset_key_variable_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    os.environ.pop("CB_TEST_UNSET_KEY", None)
    assert main(["mock", "realtime", "--api-key-env", "CB_TEST_UNSET_KEY"]) == 2
    assert "CB_TEST_UNSET_KEY" in capsys.readouterr().err


async def test_beta_header_is_refused_in_band_with_close_4000() -> None:
    async with RealtimeServer() as server:
        ws = await open_session(server.url, beta=True)  # the upgrade itself succeeds (101)
        error = await recv(ws)
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
        _, stats = await admin("GET", f"{server.admin_url}/admin/stats")
        _, metrics = await admin("GET", f"{server.admin_url}/metrics")
    assert 'callbench_realtime_session_ends_total{reason="beta_api_shape_disabled"} 1.0' in metrics
    assert error["type"] == "error"
    assert error["error"]["code"] == "beta_api_shape_disabled"
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4000
    assert info.value.rcvd.reason == "invalid_request_error.beta_api_shape_disabled"
    assert stats["sessions"][0]["close_code"] == 4000


async def test_legacy_beta_flag_serves_the_beta_shape() -> None:
    async with RealtimeServer(legacy_beta=True) as server:
        ws = await open_session(server.url, beta=True)
        try:
            created = await recv(ws)
        finally:
            await ws.close()
    assert created["session"]["input_audio_format"] == "pcm16"


async def test_session_max_duration_set_by_the_admin_api_closes_1001() -> None:
    async with RealtimeServer() as server:
        status, _ = await admin(
            "PUT", f"{server.admin_url}/admin/faults", {"session_max_duration": {"seconds": 0.5}}
        )
        assert status == 200
        ws = await open_session(server.url)
        events = await collect_until(ws, of_type("error"), within=5)
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
        _, metrics = await admin("GET", f"{server.admin_url}/metrics")
    assert 'callbench_realtime_session_ends_total{reason="session_expired"} 1.0' in metrics
    assert events[0]["type"] == "session.created"
    assert events[-1]["error"]["code"] == "session_expired"
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1001
    assert info.value.rcvd.reason == "Your session hit the maximum duration of 0.5 seconds."


@pytest.mark.timeout(60)
async def test_openai_sdk_completes_a_server_vad_turn_with_its_ga_events() -> None:
    async with RealtimeServer(greeting_ms=200, answer_ms=300) as server:
        client = AsyncOpenAI(
            api_key="test", websocket_base_url=server.url.removesuffix("/realtime")
        )
        try:
            async with client.realtime.connect(model="gpt-realtime") as conn:
                assert (await conn.recv()).type == "session.created"
                await conn.session.update(
                    session={
                        "type": "realtime",
                        "audio": {
                            "input": {
                                "format": {"type": "audio/pcm", "rate": 24000},
                                "turn_detection": {
                                    "type": "server_vad",
                                    "silence_duration_ms": 300,
                                    "interrupt_response": True,
                                },
                            },
                        },
                    }
                )
                silence = b64(bytes(24000 * 2 // 10))
                await conn.input_audio_buffer.append(audio=b64(tone_pcm16(400)))
                for _ in range(5):
                    await conn.input_audio_buffer.append(audio=silence)
                kinds: list[str] = []
                audio = bytearray()
                async with asyncio.timeout(20):
                    async for event in conn:  # parsed by the SDK: unknown shapes would raise
                        kinds.append(event.type)
                        if event.type == "response.output_audio.delta":
                            audio += base64.b64decode(event.delta)
                        if event.type == "response.done":
                            assert event.response.status == "completed"
                            break
        finally:
            await client.close()
    order = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "response.created",
        "rate_limits.updated",
        "response.done",
    ]
    assert [k for k in kinds if k in order] == order
    assert len(audio) == 300 * 48
