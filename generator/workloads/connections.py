"""WebSocket connection capacity: each iteration opens one connection and holds it open for a
random time in [hold_min_s, hold_max_s] (drawn from the iteration's seeded RNG), reading and
discarding whatever the server sends, then closes it with 1000. Under a ramping-VUs model this
ramps to N concurrent connections; against the mock backend's `/ws/voice/{id}` every connection
also holds an upstream session, which is what a capacity run is meant to load.

`{id}` in the URL is replaced by a fresh id per connection (seeded, so runs repeat). For visitor
flows, ``pages`` adds a random `page=` query parameter per connection (the page the visitor joined
from) and ``interact_probability`` makes that share of connections speak once during their hold
(silence as native-protocol audio, then `end_of_utterance`), so the backend answers them.
``headers``, ``ca_file`` and ``insecure`` (generator/workloads/ws_options.py) go on every
handshake: a token through `${VAR}`, a private CA for a staging certificate.

Metrics (tags also carry `workload`):
  trend   `ws_connecting` ms from the iteration's intended start to the open connection
  counter `ws_sessions`   {outcome: ok|failed}  ok = held for the whole hold time
  rate    `ws_success`
  gauge   `ws_open`       connections open right now
  counter `ws_interactions`  connections that spoke
  counter `errors_total`  {kind, status|code}  classified by generator/protocols/errors.py
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from random import Random
from ssl import SSLContext
from typing import Any
from urllib.parse import quote

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from generator.errors import InvalidInput
from generator.load.config import problems_of
from generator.metrics.store import MetricsStore
from generator.protocols.errors import CallError, SessionClosed, classify_connect, classify_session
from generator.workloads.base import IterationContext
from generator.workloads.probe import probe_tcp
from generator.workloads.ws_options import WsOptions


def ws_url_validator(value: str) -> str:
    """Shared check of a ws:// or wss:// URL."""
    if not value.startswith(("ws://", "wss://")):
        raise ValueError(f"must start with ws:// or wss:// (got {value!r})")
    return value


SILENCE_FRAME = b"\x00" * 960  # 20 ms of PCM16 24 kHz mono (docs/protocol.md)


def connection_url(template: str, rng: Random, pages: Sequence[str] = ()) -> str:
    """The URL of one connection: `{id}` replaced by a seeded, unique-looking id, and a random
    `page=` parameter when ``pages`` are given."""
    url = template
    if "{id}" in url:
        url = url.replace("{id}", uuid.UUID(int=rng.getrandbits(128), version=4).hex)
    if pages:
        page = quote(rng.choice(pages), safe="/")
        url += ("&" if "?" in url else "?") + f"page={page}"
    return url


async def open_ws(
    url: str,
    timeout_s: float,
    headers: Sequence[tuple[str, str]] = (),
    ssl_context: SSLContext | None = None,
) -> ClientConnection:
    """Open a client connection the way the generator always does: no compression (so that
    frame sizes and CPU are what the server sends), no proxy from the environment, and no
    keepalive pings: a browser's WebSocket never pings (so a visitor's connection should not
    either), and each keepalive is a task and a timer per held connection (~2 kB of the ~20 kB
    of Python objects one costs, docs/performance.md). A dead peer still ends the hold, at its
    end or with the server's close. ``headers`` are already expanded; ``ssl_context`` is the
    workload's shared one (None: websockets' default for wss://)."""
    tls: dict[str, Any] = {} if ssl_context is None else {"ssl": ssl_context}
    return await connect(
        url,
        compression=None,
        proxy=None,
        open_timeout=timeout_s,
        close_timeout=5,
        max_size=None,
        ping_interval=None,
        additional_headers=list(headers) or None,
        **tls,
    )


def record_error(store: MetricsStore, error: CallError, workload: str) -> None:
    store.add_counter("errors_total", 1, {"kind": error.kind, **error.tags, "workload": workload})


class ConnectionsConfig(WsOptions):
    """Where to connect and how long to hold each connection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    hold_min_s: float = Field(default=30.0, ge=0)
    hold_max_s: float = Field(default=30.0, ge=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    pages: tuple[str, ...] = ()
    interact_probability: float = Field(default=0.0, ge=0, le=1)
    interaction_audio_ms: int = Field(default=1000, ge=20)

    @field_validator("url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        return ws_url_validator(value)

    @model_validator(mode="after")
    def _hold_range(self) -> ConnectionsConfig:
        if self.hold_min_s > self.hold_max_s:
            raise ValueError(f"hold_min_s {self.hold_min_s} > hold_max_s {self.hold_max_s}")
        return self


class ConnectionsWorkload:
    """One held WebSocket connection per iteration."""

    def __init__(
        self,
        config: ConnectionsConfig,
        name: str = "connections",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._open = 0
        self._headers, self._ssl = config.transport(f"workloads.{name}.config")

    async def setup(self) -> None:
        await probe_tcp(self.config.url)

    async def iteration(self, ctx: IterationContext) -> None:
        url = connection_url(self.config.url, ctx.rng, self.config.pages)
        hold_s = ctx.rng.uniform(self.config.hold_min_s, self.config.hold_max_s)
        speak_at: float | None = None
        if ctx.rng.random() < self.config.interact_probability:
            speak_at = ctx.rng.uniform(0.0, hold_s / 2)
        tags = {"workload": self.name}
        try:
            ws = await open_ws(url, self.config.connect_timeout_s, self._headers, self._ssl)
        except Exception as exc:  # every failure to connect is a result, not a crash
            self._finish(ctx.store, classify_connect(exc))
            return
        ctx.store.add_trend("ws_connecting", (self._clock() - ctx.intended_start) * 1000.0, tags)
        self._set_open(ctx.store, +1)
        speaker = None
        if speak_at is not None:
            speaker = asyncio.create_task(self._speak(ws, speak_at, ctx.store))
        try:
            error = await self._hold(ws, hold_s)
        finally:
            self._set_open(ctx.store, -1)
            if speaker is not None:
                speaker.cancel()
                await asyncio.gather(speaker, return_exceptions=True)
        self._finish(ctx.store, error)

    async def teardown(self) -> None:
        return None

    async def _hold(self, ws: ClientConnection, hold_s: float) -> CallError | None:
        """Read until the hold ends (then close 1000) or the server ends it first."""
        try:
            async with asyncio.timeout(hold_s):
                while True:  # recv, not `async for`: no async generator per held connection
                    await ws.recv()
        except TimeoutError:
            await ws.close(1000)
            return None
        except ConnectionClosed:
            pass
        except Exception as exc:  # a broken frame or a reset: the connection is gone
            await ws.close(1011)
            return classify_session(exc)
        return SessionClosed(ws.close_code)

    async def _speak(self, ws: ClientConnection, after_s: float, store: MetricsStore) -> None:
        """One visitor interaction: a short utterance, then end of utterance."""
        await asyncio.sleep(after_s)
        try:
            for _ in range(self.config.interaction_audio_ms // 20):
                await ws.send(SILENCE_FRAME)
            await ws.send(json.dumps({"type": "end_of_utterance"}))
        except ConnectionClosed:
            return  # the hold records how the connection ended
        store.add_counter("ws_interactions", 1, {"workload": self.name})

    def _finish(self, store: MetricsStore, error: CallError | None) -> None:
        tags = {"workload": self.name}
        store.add_counter(
            "ws_sessions", 1, {**tags, "outcome": "ok" if error is None else "failed"}
        )
        store.add_rate("ws_success", error is None, tags)
        if error is not None:
            record_error(store, error, self.name)

    def _set_open(self, store: MetricsStore, delta: int) -> None:
        self._open += delta
        store.add_gauge("ws_open", float(self._open), {"workload": self.name})


def build_connections(name: str, config: Mapping[str, Any], seed: int = 0) -> ConnectionsWorkload:
    """The workload a scenario's `type: connections` entry describes."""
    try:
        parsed = ConnectionsConfig.model_validate(dict(config))
    except ValidationError as exc:
        raise InvalidInput(f"workloads.{name}.config", problems_of(exc)) from None
    return ConnectionsWorkload(parsed, name=name)


__all__ = [
    "ConnectionsConfig",
    "ConnectionsWorkload",
    "build_connections",
    "connection_url",
    "open_ws",
    "ws_url_validator",
]
