"""Opening the backend's session with its Realtime upstream, and what a call's failure is.

``open_upstream`` makes the handshake, retried with exponential backoff and seeded jitter on 429s
and refused connections (``upstream_retries``); every failure is counted in
``upstream_errors_total`` by kind and raised as ``CallFailed`` with the code the caller sees.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Protocol

import aiohttp

from mocks.backend.state import BackendState
from mocks.backend.upstream_shape import handshake_headers


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


async def open_upstream(state: BackendState) -> aiohttp.ClientWebSocketResponse:
    """A connected upstream WebSocket, or CallFailed once the retries are spent."""
    config = state.config
    attempts = 1 + (config.upstream_max_retries if config.upstream_retries == "backoff" else 0)
    failure = CallFailed("upstream_error", "no attempt made")
    for attempt in range(attempts):
        if attempt:
            # Exponential backoff with seeded jitter, so retries of many calls spread out.
            base = config.upstream_backoff_base_s * 2 ** (attempt - 1)
            await asyncio.sleep(base * state.rng.uniform(0.5, 1.5))
        try:
            return await _handshake(state)
        except CallFailed as exc:
            failure = exc
            if exc.outcome not in ("rate_limited", "refused"):
                break
    raise CallFailed(failure.code, failure.message)


async def _handshake(state: BackendState) -> aiohttp.ClientWebSocketResponse:
    """One connection attempt; failures are counted and raised as CallFailed whose
    ``outcome`` holds the metric kind (rate_limited, refused, timeout, other)."""
    config = state.config
    url = f"{config.upstream_url}?model={config.upstream_model}"
    errors = state.metrics.upstream_errors_total
    try:
        return await asyncio.wait_for(
            state.client().ws_connect(
                url,
                headers=handshake_headers(config.upstream_api, "callbench-fake-key"),
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
        raise CallFailed("upstream_timeout", "the AI service did not answer", "timeout") from exc
    except (aiohttp.ClientError, OSError) as exc:
        errors.labels(kind="refused").inc()
        raise CallFailed("upstream_error", "the AI service is unreachable", "refused") from exc


def decode_audio(b64: str) -> bytes:
    try:
        return base64.b64decode(b64, validate=True)
    except ValueError:
        return b""
