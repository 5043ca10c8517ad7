"""One call's session with the Realtime upstream (GA protocol): connect (with retries, backoff
and seeded jitter on 429s and refusals), ``session.update`` with the audio formats and tools, the
greeting, caller audio in, tool calls run against Postgres, response events out to a ``CallSink``.

Every failure leaves as ``CallFailed`` with the error code the caller sees (``upstream_timeout``,
``upstream_rate_limited``, ``upstream_error``, ``db_unavailable``); the upstream timeout is the
time from ``response.create`` (or the end of speech under server VAD) to the first output.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from typing import Any, Literal, Protocol

import aiohttp

from mocks.backend.db import DbUnavailable
from mocks.backend.state import BackendState
from mocks.backend.tools import TOOLS, ToolError, parse_arguments, run_tool

log = logging.getLogger(__name__)

AudioFormat = Literal["audio/pcm", "audio/pcmu"]
# How often the read loop wakes to check its deadline while nothing arrives.
TICK_S = 0.1
INSTRUCTIONS = (
    "You are the receptionist of a small clinic. Greet the caller, check availability and book "
    "appointments with the tools. Be brief."
)


class CallFailed(Exception):
    """The call cannot go on; ``code`` is the error event the caller gets."""

    def __init__(self, code: str, message: str, outcome: str | None = None) -> None:
        self.code = code
        self.message = message
        self.outcome = outcome or code
        super().__init__(f"{code}: {message}")


class CallSink(Protocol):
    """How a call protocol (native, Twilio) receives what the upstream says."""

    async def ready(self, call_id: str) -> None: ...
    async def response_started(self, response_id: str, kind: str) -> None: ...
    async def audio(self, response_id: str, b64: str) -> None: ...
    async def transcript(self, response_id: str, text: str) -> None: ...
    async def tool_call(self, name: str, arguments: dict[str, Any], result: Any) -> None: ...
    async def response_done(self, response_id: str, status: str, had_audio: bool) -> None: ...
    async def speech(self, started: bool) -> None: ...


def session_update(config_model: str, fmt: AudioFormat, server_vad: bool) -> dict[str, Any]:
    audio_format: dict[str, Any] = {"type": fmt}
    if fmt == "audio/pcm":
        audio_format["rate"] = 24000
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "model": config_model,
            "output_modalities": ["audio"],
            "instructions": INSTRUCTIONS,
            "audio": {
                "input": {
                    "format": audio_format,
                    "turn_detection": {"type": "server_vad"} if server_vad else None,
                },
                "output": {"format": audio_format, "voice": "marin"},
            },
            "tools": TOOLS,
            "tool_choice": "auto",
        },
    }


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

    # -- connecting ---------------------------------------------------------------------------

    async def connect(self) -> None:
        config = self._state.config
        attempts = 1 + (config.upstream_max_retries if config.upstream_retries == "backoff" else 0)
        failure = CallFailed("upstream_error", "no attempt made")
        for attempt in range(attempts):
            if attempt:
                # Exponential backoff with seeded jitter, so retries of many calls spread out.
                base = config.upstream_backoff_base_s * 2 ** (attempt - 1)
                await asyncio.sleep(base * self._state.rng.uniform(0.5, 1.5))
            try:
                self._ws = await self._handshake()
                break
            except CallFailed as exc:
                failure = exc
                if exc.outcome not in ("rate_limited", "refused"):
                    break
        else:
            raise CallFailed(failure.code, failure.message)
        if self._ws is None:
            raise CallFailed(failure.code, failure.message)
        await self._send(session_update(config.upstream_model, self.audio_format, self.server_vad))
        await self._sink.ready(self.session_id)
        await self.request_response()

    async def _handshake(self) -> aiohttp.ClientWebSocketResponse:
        """One connection attempt; failures are counted and raised as CallFailed whose
        ``outcome`` holds the metric kind (rate_limited, refused, timeout, other)."""
        config = self._state.config
        url = f"{config.upstream_url}?model={config.upstream_model}"
        errors = self._state.metrics.upstream_errors_total
        try:
            return await asyncio.wait_for(
                self._state.client().ws_connect(
                    url,
                    headers={"Authorization": "Bearer callbench-fake-key"},
                ),
                timeout=config.upstream_timeout_s,
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 429:
                errors.labels(kind="rate_limited").inc()
                raise CallFailed(
                    "upstream_rate_limited", "the AI service is rate limiting", "rate_limited"
                ) from exc
            errors.labels(kind="other").inc()
            raise CallFailed(
                "upstream_error", f"the AI service refused the session ({exc.status})", "other"
            ) from exc
        except TimeoutError as exc:
            errors.labels(kind="timeout").inc()
            raise CallFailed(
                "upstream_timeout", "the AI service did not answer", "timeout"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            errors.labels(kind="refused").inc()
            raise CallFailed("upstream_error", "the AI service is unreachable", "refused") from exc

    # -- caller to upstream -------------------------------------------------------------------

    async def append_audio(self, b64: str) -> None:
        self._appended = True
        await self._send({"type": "input_audio_buffer.append", "audio": b64})

    async def end_utterance(self) -> None:
        """The caller stopped speaking: commit what they said and ask for the answer."""
        if self._appended:
            await self._send({"type": "input_audio_buffer.commit"})
            self._appended = False
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
        ws = self._ws
        assert ws is not None, "connect() first"
        clock = self._state.clock
        self._last_event = clock()
        while True:
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
            self._state.metrics.upstream_errors_total.labels(kind="dropped").inc()
            raise CallFailed("upstream_error", "the AI service closed the session", "dropped")

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
        elif kind in ("response.output_audio.delta", "response.audio.delta"):
            self._first_output()
            self._response_audio = True
            await sink.audio(str(event.get("response_id", "")), str(event.get("delta", "")))
        elif kind in (
            "response.output_audio_transcript.delta",
            "response.audio_transcript.delta",
        ):
            await sink.transcript(str(event.get("response_id", "")), str(event.get("delta", "")))
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


def decode_audio(b64: str) -> bytes:
    try:
        return base64.b64decode(b64, validate=True)
    except ValueError:
        return b""
