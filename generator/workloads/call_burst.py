"""A burst of call requests at a fixed arrival rate: each iteration joins (opens
`/ws/voice/{id}` on the mock backend), makes its request (waits for `session.ready`) and waits
for the answer (the greeting's `response.started`), then hangs up. It answers "how many calls per
second does admission accept, and how many are turned away or left waiting?", so it is meant to
run under an open model (constant arrival rate) and counts from each request's scheduled start.

Metrics (tags also carry `workload`):
  counter `call_requests_total` {outcome: accepted | rejected (1013/1008 close, `capacity` error,
                                 429/503 handshake) | timed_out | failed}
  rate    `call_accepted`
  trend   `call_ready_time`     ms from scheduled start to `session.ready`
  trend   `call_answer_time`    ms from scheduled start to the answer's `response.started`
  counter `errors_total`        {kind, ...}

``headers``, ``ca_file`` and ``insecure`` go on every handshake (generator/workloads/ws_options.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from pydantic import ConfigDict, Field, ValidationError, field_validator
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from generator.errors import InvalidInput
from generator.load.config import problems_of
from generator.metrics.store import MetricsStore
from generator.protocols.errors import (
    CallError,
    ConnectFailed,
    GreetingTimeout,
    ServerError,
    SessionClosed,
    classify_connect,
    classify_session,
)
from generator.workloads.base import IterationContext
from generator.workloads.connections import connection_url, open_ws, record_error, ws_url_validator
from generator.workloads.probe import probe_tcp
from generator.workloads.ws_options import WsOptions

OUTCOMES: Final = ("accepted", "rejected", "timed_out", "failed")
_REJECTING_STATUSES: Final = frozenset({"429", "503"})


class CallBurstConfig(WsOptions):
    """Where to call and how long to wait at each step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    connect_timeout_s: float = Field(default=10.0, gt=0)
    ready_timeout_s: float = Field(default=10.0, gt=0)
    answer_timeout_s: float = Field(default=15.0, gt=0)

    @field_validator("url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        return ws_url_validator(value)


class _ServerError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _Closed(Exception):
    pass


async def _wait_for(ws: ClientConnection, frame_type: str) -> None:
    """Read until a text frame of ``frame_type``; an `error` frame or a close ends the wait."""
    async for message in ws:
        if isinstance(message, bytes):
            continue
        try:
            frame = json.loads(message)
        except ValueError:
            continue
        if not isinstance(frame, dict):
            continue
        if frame.get("type") == frame_type:
            return
        if frame.get("type") == "error":
            raise _ServerError(str(frame.get("code", "unknown")))
    raise _Closed


def _outcome_of(error: CallError) -> str:
    if error.kind == "server_capacity" or (
        error.kind == "handshake_rejected" and error.tags.get("status") in _REJECTING_STATUSES
    ):
        return "rejected"
    if error.kind in ("connect_timeout", "greeting_timeout", "response_timeout"):
        return "timed_out"
    return "failed"


class CallBurstWorkload:
    """Join, request, wait for the answer, hang up: one call request per iteration."""

    def __init__(
        self,
        config: CallBurstConfig,
        name: str = "call_burst",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._zeroed = False
        self._headers, self._ssl = config.transport(f"workloads.{name}.config")

    async def setup(self) -> None:
        await probe_tcp(self.config.url)

    async def iteration(self, ctx: IterationContext) -> None:
        self._zero(ctx.store)
        tags = {"workload": self.name}
        try:
            ws = await open_ws(
                connection_url(self.config.url, ctx.rng),
                self.config.connect_timeout_s,
                self._headers,
                self._ssl,
            )
        except Exception as exc:  # every failure to connect is a result, not a crash
            self._finish(ctx.store, classify_connect(exc))
            return
        error: CallError | None = None
        step = "ready"
        try:
            async with asyncio.timeout(self.config.ready_timeout_s):
                await _wait_for(ws, "session.ready")
            ctx.store.add_trend("call_ready_time", self._since(ctx), tags)
            step = "answer"
            async with asyncio.timeout(self.config.answer_timeout_s):
                await _wait_for(ws, "response.started")
            ctx.store.add_trend("call_answer_time", self._since(ctx), tags)
        except TimeoutError:
            error = (
                GreetingTimeout("no response.started in time")
                if step == "answer"
                else ConnectFailed("connect_timeout", "no session.ready in time")
            )
        except _ServerError as exc:
            error = ServerError(exc.code)
        except (_Closed, ConnectionClosed):
            error = SessionClosed(ws.close_code)
        except Exception as exc:  # a reset or a broken frame
            error = classify_session(exc)
        finally:
            await self._hang_up(ws)
        self._finish(ctx.store, error)

    async def teardown(self) -> None:
        return None

    def _since(self, ctx: IterationContext) -> float:
        return (self._clock() - ctx.intended_start) * 1000.0

    async def _hang_up(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "hangup"}))
        await ws.close(1000)

    def _finish(self, store: MetricsStore, error: CallError | None) -> None:
        outcome = "accepted" if error is None else _outcome_of(error)
        tags = {"workload": self.name}
        store.add_counter("call_requests_total", 1, {**tags, "outcome": outcome})
        store.add_rate("call_accepted", error is None, tags)
        if error is not None:
            record_error(store, error, self.name)

    def _zero(self, store: MetricsStore) -> None:
        # Thresholds on e.g. `call_requests_total{outcome:rejected}` need every series to exist.
        if not self._zeroed:
            self._zeroed = True
            for outcome in OUTCOMES:
                store.add_counter(
                    "call_requests_total", 0, {"workload": self.name, "outcome": outcome}
                )


def build_call_burst(name: str, config: Mapping[str, Any], seed: int = 0) -> CallBurstWorkload:
    """The workload a scenario's `type: call_burst` entry describes."""
    try:
        parsed = CallBurstConfig.model_validate(dict(config))
    except ValidationError as exc:
        raise InvalidInput(f"workloads.{name}.config", problems_of(exc)) from None
    return CallBurstWorkload(parsed, name=name)


__all__ = ["CallBurstConfig", "CallBurstWorkload", "build_call_burst"]
