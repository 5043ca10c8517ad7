"""The life of one call, whatever the caller's protocol: admission control, the call log row,
the upstream session, the race between the caller's frames and the upstream's events, and the
end — a hang-up, or an error event the caller can read (never a stack trace unless the
``expose_stack_traces`` knob is on), with the outcome counted and recorded.

The ``leak_transcripts`` and ``cpu_burn_ms_per_frame`` bugs are applied here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import traceback
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from mocks.backend.bridge import AudioFormat, CallFailed, CallSink, UpstreamSession
from mocks.backend.db import DbUnavailable
from mocks.backend.state import BackendState

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_CAPACITY = 1013


class Caller(CallSink, Protocol):
    """One call protocol's side of a call (it also receives the upstream's events)."""

    protocol: str
    audio_format: AudioFormat
    server_vad: bool

    async def prepare(self) -> str | None:
        """Read what comes before audio; the session id, or None if the caller left."""

    async def serve(self, upstream: UpstreamSession) -> str:
        """Forward the caller's frames until the call ends; returns the outcome."""

    async def error(self, code: str, message: str) -> None: ...

    async def end(self, close_code: int, reason: str) -> None: ...


class Recording:
    """The call's audio and words. Kept only when ``leak_transcripts`` is on — and then kept
    forever, which is the bug: each call adds its whole recording to the app's memory."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.parts: list[bytes | str] = []

    def add(self, part: bytes | str) -> None:
        if self.enabled:
            self.parts.append(part)


def burn_cpu(ms: float) -> None:
    """The CPU-burn bug: block the event loop for ``ms`` on every audio frame."""
    if ms <= 0:
        return
    end = time.perf_counter() + ms / 1000.0
    while time.perf_counter() < end:
        pass


async def send_json(ws: web.WebSocketResponse, event: dict[str, Any]) -> None:
    """Send unless the caller is gone (a vanished caller is the call's end, not an error)."""
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
        await ws.send_str(json.dumps(event))


async def close_ws(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
            await ws.close(code=code, message=reason.encode()[:120])


def _message(state: BackendState, exc: BaseException, text: str) -> str:
    if state.config.expose_stack_traces:
        return text + "\n" + "".join(traceback.format_exception(exc))
    return text


async def run_call(state: BackendState, caller: Caller, recording: Recording) -> None:
    config, metrics = state.config, state.metrics
    if not await state.admission.acquire(config.max_sessions, config.admission_queue):
        metrics.rejected_sessions_total.inc()
        metrics.calls_total.labels(outcome="rejected").inc()
        await caller.error("capacity", "server at capacity")
        await caller.end(CLOSE_CAPACITY, "server at capacity")
        return
    metrics.active_calls.inc()
    outcome, row_id = "abandoned", None
    upstream: UpstreamSession | None = None
    try:
        session_id = await caller.prepare()
        if session_id is not None:
            with contextlib.suppress(DbUnavailable):  # counted; a call is not refused for its log
                row_id = await state.db.call_started(session_id, caller.protocol)
            upstream = UpstreamSession(
                state,
                caller,
                session_id=session_id,
                audio_format=caller.audio_format,
                server_vad=caller.server_vad,
            )
            outcome = await _converse(upstream, caller)
            await caller.end(CLOSE_NORMAL, "call ended")
    except CallFailed as exc:
        outcome = exc.code
        await caller.error(exc.code, _message(state, exc, exc.message))
        await caller.end(CLOSE_INTERNAL, exc.code)
    except Exception as exc:
        log.exception("call failed unexpectedly")
        outcome = "internal_error"
        await caller.error("internal_error", _message(state, exc, "internal error"))
        await caller.end(CLOSE_INTERNAL, "internal error")
    finally:
        if upstream is not None:
            await upstream.close()
        state.admission.release(state.config.max_sessions)
        metrics.active_calls.dec()
        metrics.calls_total.labels(outcome=outcome).inc()
        if recording.enabled:
            state.leaks.transcripts.append(recording.parts)
        if row_id is not None:
            turns = upstream.turns if upstream is not None else 0
            with contextlib.suppress(DbUnavailable):
                await state.db.call_ended(row_id, outcome, turns)


async def _converse(upstream: UpstreamSession, caller: Caller) -> str:
    """Connect, then run both directions until one ends; the other is cancelled."""
    await upstream.connect()
    upstream_task = asyncio.create_task(upstream.run())
    caller_task = asyncio.create_task(caller.serve(upstream))
    try:
        done, _ = await asyncio.wait(
            (upstream_task, caller_task), return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (upstream_task, caller_task):
            if not task.done():
                task.cancel()
        await asyncio.gather(upstream_task, caller_task, return_exceptions=True)
    if caller_task in done and not caller_task.cancelled() and caller_task.exception() is None:
        return caller_task.result()
    for task in (upstream_task, caller_task):
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return "abandoned"
