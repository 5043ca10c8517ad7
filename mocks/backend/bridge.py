"""One call's session with the Realtime upstream (GA protocol, mocks/backend/upstream_shape.py):
connect (with retries, backoff and seeded jitter on 429s and refusals), ``session.update`` with the
audio formats, turn detection and tools, the greeting, caller audio in, tool calls run against
Postgres, response events out to a ``CallSink``, ``conversation.item.truncate`` when the caller
cut the assistant off, and a new session when the upstream ends one at its maximum duration.

Every failure leaves as ``CallFailed`` with the error code the caller sees (``upstream_timeout``,
``upstream_rate_limited``, ``upstream_error``, ``upstream_api_refused``,
``upstream_session_expired``, ``db_unavailable``); the upstream timeout is the time from
``response.create`` (or the end of speech under server VAD) to the first output.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

import aiohttp

from mocks.backend.db import DbUnavailable
from mocks.backend.state import BackendState
from mocks.backend.tools import TOOLS, ToolError, parse_arguments, run_tool
from mocks.backend.upstream_connect import CallFailed, CallSink, decode_audio, open_upstream
from mocks.backend.upstream_shape import (
    AUDIO_DELTAS,
    BYTES_PER_MS,
    TRANSCRIPT_DELTAS,
    AudioFormat,
    resume_item,
    session_update,
)

log = logging.getLogger(__name__)

__all__ = ["AudioFormat", "CallFailed", "CallSink", "UpstreamSession", "decode_audio"]

# How often the read loop wakes to check its deadline while nothing arrives.
TICK_S = 0.1
# OpenAI's close code and error code when a session reaches its maximum duration.
CLOSE_GOING_AWAY = 1001
SESSION_EXPIRED = "session_expired"
BETA_REFUSED = "beta_api_shape_disabled"
# The caller's audio kept since the upstream last committed, to replay into a new session.
MAX_REPLAY_MS = 30_000


class UpstreamSession:
    """The upstream side of one call. ``connect()``, then ``run()`` until it raises or is
    cancelled, feeding caller audio with ``append_audio`` / ``end_utterance``; ``close()``."""

    def __init__(
        self,
        state: BackendState,
        sink: CallSink,
        *,
        session_id: str,
        audio_format: AudioFormat,
        server_vad: bool,
    ) -> None:
        self._state = state
        self._sink = sink
        self.session_id = session_id
        self.audio_format = audio_format
        self.server_vad = server_vad
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._appended = False  # caller audio since the last commit
        self._responses = 0
        self._waiting_since: float | None = None  # response requested, no output yet
        self._last_event = 0.0
        self._in_response = False
        self._response_audio = False
        # A response is requested or running: another response.create must wait for its end
        # (the upstream rejects a second active response).
        self._busy = False
        self._deferred = False
        self._calls: dict[str, tuple[str, str]] = {}  # call_id -> (name, arguments)
        self.turns = 0
        self.sessions = 0  # upstream sessions opened for this call (more after expiries)
        self._audio_item: str | None = None  # the assistant item whose audio is being sent
        self._audio_item_bytes = 0
        self._said: list[str] = []  # the assistant's words, told to a resumed session
        self._replay: deque[str] = deque()  # caller audio the upstream has not committed yet
        self._replay_bytes = 0
        self._expired = False  # the upstream said the session reached its maximum duration
        # Events sent while a new session is being opened, for that session (None: not opening).
        self._held: list[dict[str, Any]] | None = None

    # -- connecting ---------------------------------------------------------------------------

    async def connect(self) -> None:
        await self._open()
        await self._sink.ready(self.session_id)
        await self.request_response()

    async def _open(self) -> None:
        """A session: the handshake (retried on 429s and refusals), then ``session.update``."""
        config = self._state.config
        self._ws = await open_upstream(self._state)
        self.sessions += 1
        update = session_update(
            config.upstream_model,
            self.audio_format,
            self.server_vad,
            TOOLS,
            api=config.upstream_api,
            # Ignoring barge-in includes leaving the upstream's own interruption off: the fake
            # paces its audio at real time, so the audio a real bridge leaves playing in Twilio's
            # buffer is, here, the upstream still talking.
            interrupt=not config.ignore_barge_in,
        )
        await self._write(update)

    # -- caller to upstream -------------------------------------------------------------------

    async def append_audio(self, b64: str) -> None:
        self._appended = True
        self._replay.append(b64)
        self._replay_bytes += len(b64) * 3 // 4
        limit = MAX_REPLAY_MS * BYTES_PER_MS[self.audio_format]
        while self._held is None and self._replay_bytes > limit:
            self._replay_bytes -= len(self._replay.popleft()) * 3 // 4
        if self._held is not None:
            return  # a new session is opening: the replay carries this audio to it
        await self._send({"type": "input_audio_buffer.append", "audio": b64})

    async def truncate(self, played_ms: int) -> None:
        """The caller cut the assistant off after hearing ``played_ms`` of its current item: the
        upstream drops the rest from the conversation (what the caller never heard was not said).
        """
        item, self._audio_item = self._audio_item, None
        if item is None:
            return
        sent_ms = self._audio_item_bytes // BYTES_PER_MS[self.audio_format]
        end_ms = max(0, min(played_ms, sent_ms))
        await self._send(
            {
                "type": "conversation.item.truncate",
                "item_id": item,
                "content_index": 0,
                "audio_end_ms": end_ms,
            }
        )

    async def end_utterance(self) -> None:
        """The caller stopped speaking: commit what they said and ask for the answer."""
        if self._appended:
            await self._send({"type": "input_audio_buffer.commit"})
            self._appended = False
            self._replay.clear()
            self._replay_bytes = 0
        self.turns += 1
        await self.request_response()

    async def request_response(self) -> None:
        if self._busy:
            self._deferred = True
            return
        self._busy = True
        self._arm()
        await self._send({"type": "response.create"})

    def _arm(self) -> None:
        if self._waiting_since is None:
            self._waiting_since = self._state.clock()

    async def _send(self, event: dict[str, Any]) -> None:
        """Send now, or, while a new session is being opened, hold it for that session."""
        if self._held is not None:
            self._held.append(event)
            return
        await self._write(event)

    async def _write(self, event: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            raise CallFailed("upstream_error", "the AI service connection is closed", "dropped")
        try:
            await ws.send_str(json.dumps(event))
        except (aiohttp.ClientError, ConnectionError) as exc:
            self._state.metrics.upstream_errors_total.labels(kind="dropped").inc()
            raise CallFailed("upstream_error", "lost the AI service connection", "dropped") from exc

    # -- upstream to caller -------------------------------------------------------------------

    async def run(self) -> None:
        """Read upstream events until the upstream fails (CallFailed) or this task is cancelled."""
        clock = self._state.clock
        self._last_event = clock()
        while True:
            ws = self._ws
            if ws is None:
                raise CallFailed("upstream_error", "the AI service connection is closed")
            self._check_deadline(clock())
            try:
                message = await ws.receive(timeout=TICK_S)
            except TimeoutError:
                continue
            self._last_event = clock()
            if message.type == aiohttp.WSMsgType.TEXT:
                try:
                    event = json.loads(message.data)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    await self._on_event(event)
                continue
            if message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.PING):
                continue
            code = message.data if message.type == aiohttp.WSMsgType.CLOSE else ws.close_code
            if self._expired or code == CLOSE_GOING_AWAY:
                await self._session_ended()
                continue
            self._state.metrics.upstream_errors_total.labels(kind="dropped").inc()
            raise CallFailed("upstream_error", "the AI service closed the session", "dropped")

    async def _session_ended(self) -> None:
        """The upstream ended the session at its maximum duration: with ``upstream_reconnect``,
        open a new one, tell it the conversation so far, replay the caller's uncommitted audio
        and ask again for the answer that was due; without, the call is over."""
        self._state.metrics.upstream_errors_total.labels(kind="session_expired").inc()
        self._expired = False
        old, self._ws = self._ws, None
        if old is not None and not old.closed:
            with contextlib.suppress(TimeoutError, aiohttp.ClientError, ConnectionError):
                await asyncio.wait_for(old.close(), timeout=2.0)
        if not self._state.config.upstream_reconnect:
            raise CallFailed(
                "upstream_session_expired",
                "the AI service ended the session at its maximum duration",
            )
        answer_due = self._waiting_since is not None or self._in_response or self._busy
        self._in_response = self._busy = self._deferred = False
        self._audio_item, self._calls = None, {}
        # The caller goes on talking meanwhile: what is sent before the new session is ready
        # waits for it (audio through the replay, anything else held).
        self._held = []
        try:
            await self._open()
            await self._write(resume_item("".join(self._said)))
            sent = 0  # the replay grows while it is written: the caller is still talking
            while sent < len(self._replay):
                b64 = self._replay[sent]
                await self._write({"type": "input_audio_buffer.append", "audio": b64})
                sent += 1
            held, self._held = self._held, None
            for event in held:
                await self._write(event)
        finally:
            self._held = None
        if answer_due and not self._busy:
            self._waiting_since = None
            await self.request_response()

    def _check_deadline(self, now: float) -> None:
        timeout = self._state.config.upstream_timeout_s
        stalled = self._waiting_since is not None and now - self._waiting_since > timeout
        # A response that went quiet half-way is as stuck as one that never started.
        stalled = stalled or (self._in_response and now - self._last_event > timeout)
        if stalled:
            self._state.metrics.upstream_errors_total.labels(kind="timeout").inc()
            raise CallFailed(
                "upstream_timeout", f"the AI service did not answer within {timeout:g} s"
            )

    def _first_output(self) -> None:
        if self._waiting_since is not None:
            elapsed = self._state.clock() - self._waiting_since
            self._state.metrics.upstream_latency_seconds.observe(elapsed)
            self._waiting_since = None

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        sink = self._sink
        if kind == "response.created":
            response = event.get("response") or {}
            self._in_response = True
            self._busy = True
            self._response_audio = False
            self._responses += 1
            label = "greeting" if self._responses == 1 else "answer"
            await sink.response_started(str(response.get("id", "")), label)
        elif kind in AUDIO_DELTAS:
            self._first_output()
            self._response_audio = True
            delta = str(event.get("delta", ""))
            item = str(event.get("item_id") or "") or None
            if item != self._audio_item:
                self._audio_item, self._audio_item_bytes = item, 0
            self._audio_item_bytes += len(delta) * 3 // 4
            await sink.audio(str(event.get("response_id", "")), delta)
        elif kind in TRANSCRIPT_DELTAS:
            text = str(event.get("delta", ""))
            self._said.append(text)
            if len(self._said) > 1000:  # a resumed session is told the last words only
                self._said = ["".join(self._said)[-4000:]]
            await sink.transcript(str(event.get("response_id", "")), text)
        elif kind == "input_audio_buffer.committed":
            self._replay.clear()
            self._replay_bytes = 0
        elif kind == "response.function_call_arguments.done":
            self._first_output()
            call_id = str(event.get("call_id", ""))
            self._calls[call_id] = (str(event.get("name", "")), str(event.get("arguments", "")))
        elif kind == "response.done":
            await self._on_response_done(event.get("response") or {})
        elif kind == "input_audio_buffer.speech_started":
            await sink.speech(True)
        elif kind == "input_audio_buffer.speech_stopped":
            if self.server_vad:
                self.turns += 1
                self._arm()  # the upstream creates the response itself
            await sink.speech(False)
        elif kind == "error":
            self._on_error(event.get("error") or {})

    async def _on_response_done(self, response: dict[str, Any]) -> None:
        self._in_response = False
        self._busy = False
        status = str(response.get("status", "completed"))
        for item in response.get("output") or []:
            if isinstance(item, dict) and item.get("type") == "function_call":
                call_id = str(item.get("call_id", ""))
                self._calls.setdefault(
                    call_id, (str(item.get("name", "")), str(item.get("arguments", "")))
                )
        if status == "failed":
            self._waiting_since = None
            details = response.get("status_details") or {}
            self._on_error(details.get("error") or {"message": "the response failed"})
        calls, self._calls = self._calls, {}
        self._waiting_since = None
        await self._sink.response_done(str(response.get("id", "")), status, self._response_audio)
        if calls:
            self._deferred = False  # the answer after the tools covers the caller's turn
            await self._run_tools(calls)
        elif self._deferred:
            self._deferred = False
            await self.request_response()

    def _on_error(self, error: dict[str, Any]) -> None:
        code = str(error.get("code") or error.get("type") or "")
        message = str(error.get("message") or "the AI service reported an error")
        errors = self._state.metrics.upstream_errors_total
        if code == SESSION_EXPIRED:
            self._expired = True  # the close follows; run() opens a new session or gives up
            return
        if code == BETA_REFUSED:
            errors.labels(kind="api_refused").inc()
            raise CallFailed(
                "upstream_api_refused",
                f"the AI service refused the API shape this backend speaks ({code}): {message}",
            )
        if "rate_limit" in code:
            errors.labels(kind="rate_limited").inc()
            raise CallFailed("upstream_rate_limited", "the AI service is rate limiting")
        if str(error.get("type")) == "invalid_request_error":
            log.warning("upstream rejected a request: %s", message)
            return
        errors.labels(kind="other").inc()
        raise CallFailed("upstream_error", f"the AI service failed: {message}")

    async def _run_tools(self, calls: dict[str, tuple[str, str]]) -> None:
        for call_id, (name, raw) in calls.items():
            try:
                args = parse_arguments(raw)
                result: Any = await run_tool(self._state.db, name, args, self.session_id)
            except ToolError as exc:
                args, result = {}, {"error": str(exc)}
            except DbUnavailable as exc:
                raise CallFailed(
                    "db_unavailable", "the booking system is unavailable, try again later"
                ) from exc
            await self._sink.tool_call(name, args, result)
            await self._send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": call_id,
                        "output": json.dumps(result),
                    },
                }
            )
        await self.request_response()

    async def close(self) -> None:
        """Close the upstream socket — or, with the leak knob on, keep it open forever."""
        ws, self._ws = self._ws, None
        if ws is None or ws.closed:
            return
        if self._state.config.leak_upstream_sockets:
            self._state.leaks.upstream_sockets.append(ws)
            return
        with contextlib.suppress(TimeoutError, aiohttp.ClientError, ConnectionError):
            await asyncio.wait_for(ws.close(), timeout=2.0)
