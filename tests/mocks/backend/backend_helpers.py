"""Helpers for the mock backend's tests (imported by name; conftest holds only fixtures): a
minimal client of the native call protocol, a poll-with-deadline, and a one-shot SQL query."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from mocks.backend.app import BackendServer

FRAME = b"\x00\x10" * 480  # 20 ms of PCM16 24 kHz at 1/8 of full scale: speech to a VAD
SILENCE = b"\x00" * 960
BackendFactory = Callable[..., Awaitable[BackendServer]]


async def put_json(url: str, body: dict[str, Any]) -> Any:
    async with aiohttp.ClientSession() as http, http.put(url, json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def metric_value(url: str, sample: str) -> float:
    """The value of one sample line (``name{labels}``) of a /metrics page; 0 when absent."""
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


async def admin_query(dsn: str, sql: str) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


@dataclass
class CallResult:
    """What one native call saw."""

    events: list[dict[str, Any]] = field(default_factory=list)
    audio_bytes: int = 0
    close_code: int | None = None
    error: str | None = None
    tool_calls: int = 0
    greeted: bool = False
    answers: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None and self.close_code == 1000


async def read_response(
    ws: aiohttp.ClientWebSocketResponse, result: CallResult, limit: float
) -> bool:
    """Read to the `response.done` of a response that had audio; False if the call ended."""
    had_audio = False
    deadline = time.monotonic() + limit
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            result.error = result.error or "client_timeout"
            return False
        try:
            message = await ws.receive(timeout=remaining)
        except TimeoutError:
            result.error = result.error or "client_timeout"
            return False
        if message.type != aiohttp.WSMsgType.TEXT:
            result.close_code = ws.close_code
            return False
        event = json.loads(message.data)
        result.events.append(event)
        kind = event.get("type")
        if kind == "audio":
            had_audio = True
            result.audio_bytes += len(base64.b64decode(event["audio"]))
        elif kind == "tool_call":
            result.tool_calls += 1
        elif kind == "error":
            result.error = str(event.get("code"))
        elif kind == "response.done" and had_audio:
            return True


async def native_call(
    ws_url: str,
    session_id: str,
    *,
    turns: int = 2,
    utterance_frames: int = 10,
    limit: float = 30.0,
) -> CallResult:
    """One call: greeting, ``turns`` utterances each answered, hang-up."""
    result = CallResult()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{ws_url}/ws/voice/{session_id}") as ws,
    ):
        if not await read_response(ws, result, limit):
            await ws.close()
            result.close_code = result.close_code or ws.close_code
            return result
        result.greeted = True
        for _ in range(turns):
            for _ in range(utterance_frames):
                await ws.send_bytes(FRAME)
            await ws.send_str(json.dumps({"type": "end_of_utterance"}))
            if not await read_response(ws, result, limit):
                await ws.close()
                result.close_code = result.close_code or ws.close_code
                return result
            result.answers += 1
        await ws.send_str(json.dumps({"type": "hangup"}))
        while True:
            message = await ws.receive(timeout=limit)
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            result.events.append(json.loads(message.data))
        result.close_code = ws.close_code
    return result


async def poll(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within} s")
        await asyncio.sleep(0.05)


@dataclass
class TwilioResult:
    """What one Twilio media-stream call saw."""

    media_bytes: int = 0
    marks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    answers: int = 0
    close_code: int | None = None


def _twilio(event: str, sid: str, **fields: Any) -> str:
    return json.dumps({"event": event, "streamSid": sid, **fields})


async def _twilio_response(
    ws: aiohttp.ClientWebSocketResponse, sid: str, result: TwilioResult, limit: float
) -> bool:
    """Read media until the mark closing a response (echoed back, as Twilio does)."""
    deadline = time.monotonic() + limit
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            result.errors.append("client_timeout")
            return False
        try:
            message = await ws.receive(timeout=remaining)
        except TimeoutError:
            result.errors.append("client_timeout")
            return False
        if message.type != aiohttp.WSMsgType.TEXT:
            result.close_code = ws.close_code
            return False
        event = json.loads(message.data)
        kind = event.get("event")
        if kind == "media":
            assert event["streamSid"] == sid
            result.media_bytes += len(base64.b64decode(event["media"]["payload"]))
        elif kind == "mark":
            result.marks.append(event["mark"]["name"])
            await ws.send_str(_twilio("mark", sid, mark=event["mark"]))
            if str(event["mark"]["name"]).startswith("response-"):  # the backend's end hint
                return True
        elif kind == "error":
            result.errors.append(str(event.get("code")))


async def twilio_call(ws_url: str, *, turns: int = 1, limit: float = 30.0) -> TwilioResult:
    """The legacy caller of ``/media-stream?vad=off`` (not Twilio's behaviour: tests/mocks/backend/
    twilio_line.py is): connected, start, greeting, ``turns`` x (media frames, an
    ``end_of_utterance`` mark), stop."""
    result, sid, call_sid = TwilioResult(), "MZ00000000000000000000000000000001", "CA0001"
    frame = base64.b64encode(b"\x7e" * 160).decode()  # 20 ms of 8 kHz mu-law
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{ws_url}/media-stream?vad=off") as ws,
    ):
        await ws.send_str(
            json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        )
        start = {
            "streamSid": sid,
            "accountSid": "AC0001",
            "callSid": call_sid,
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {},
        }
        await ws.send_str(_twilio("start", sid, sequenceNumber="1", start=start))
        if not await _twilio_response(ws, sid, result, limit):
            return result
        sequence = 1
        for _ in range(turns):
            for chunk in range(10):
                sequence += 1
                media = {"track": "inbound", "chunk": str(chunk + 1), "timestamp": str(20 * chunk)}
                await ws.send_str(
                    _twilio(
                        "media",
                        sid,
                        sequenceNumber=str(sequence),
                        media={**media, "payload": frame},
                    )
                )
            await ws.send_str(_twilio("mark", sid, mark={"name": "end_of_utterance"}))
            if not await _twilio_response(ws, sid, result, limit):
                return result
            result.answers += 1
        await ws.send_str(_twilio("stop", sid, stop={"accountSid": "AC0001", "callSid": call_sid}))
        message = await ws.receive(timeout=limit)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        result.close_code = ws.close_code
    return result


PROJECT_ROOT = Path(__file__).resolve().parents[3]
READY = re.compile(r"http (\S+) ws (\S+) admin (\S+)")


class BackendProcess:
    def __init__(self, proc: asyncio.subprocess.Process, url: str, ws_url: str) -> None:
        self.proc, self.url, self.ws_url = proc, url, ws_url

    async def rss_mb(self) -> float:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/debug/memory") as r:
            return float((await r.json())["rss_mb"])


@contextlib.asynccontextmanager
async def backend_process(*sets: str) -> AsyncIterator[BackendProcess]:
    argv = [sys.executable, "-m", "mocks.backend", "--port", "0", "--admin-port", "0"]
    for item in sets:
        argv += ["--set", item]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
        cwd=PROJECT_ROOT,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
        match = READY.search(line)
        assert match, f"no ready line from the backend: {line!r}"
        yield BackendProcess(proc, match[1], match[2])
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
            except TimeoutError:
                proc.kill()
                await proc.wait()
