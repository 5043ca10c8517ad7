"""Voice calls: each iteration is one phone call over the native, Twilio or Realtime protocol.

A call connects, waits for the assistant's greeting to finish, then plays the caller for `turns`
turns (an utterance sent at real-time pace, the end of speech, the answer read to its end, tool
calls handled on the way) and hangs up. The caller's audio is built and encoded once, here, so a
call only sends prepared frames.

Metrics (trends in ms; every metric tagged `protocol` and `workload`):
  trend   `connect_time`      intended start of the iteration → connection open (no coordinated
                              omission: an open model's late start counts against the target)
  trend   `greeting_latency`  connection open → first greeting audio
  trend   `turn_latency`      end of caller audio (end_of_utterance / the mark / response.create)
                              → first response audio
  trend   `response_time`     end of caller audio → last response audio
  trend   `audio_gap`         per response (the greeting too): how much later than real time
                              its audio arrived
  trend   `send_lag`          per caller audio frame: actual send − scheduled send
  trend   `call_duration`     connection open → hung up, for calls that succeeded
  counter `calls_total`       {outcome: succeeded | failed}
  rate    `call_success`
  counter `errors_total`      {kind, status | code}: see generator/protocols/errors.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, Literal

from pydantic import ConfigDict, Field, field_validator
from websockets.exceptions import WebSocketException

from generator.audio import utterance_pcm
from generator.metrics.store import MetricsStore
from generator.protocols import ClientSettings, encode_audio, make_client
from generator.protocols.base import Frames, ResponseTiming
from generator.protocols.errors import CallError, classify_connect, classify_session
from generator.workloads.base import IterationContext
from generator.workloads.probe import probe_tcp
from generator.workloads.ws_options import WsOptions

OUTCOMES: Final = ("succeeded", "failed")
# Distinct synthetic utterances per workload; more turns cycle through them.
MAX_DISTINCT_UTTERANCES: Final = 4


class CallConfig(WsOptions):
    """One kind of call: where, which protocol, how many turns, how long to wait."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    protocol: Literal["native", "twilio", "realtime"] = "native"
    turns: int = Field(default=2, ge=0, le=1000)
    utterance_ms: int = Field(default=1500, ge=20, le=600_000)
    audio_file: str | None = None
    connect_timeout_s: float = Field(default=10.0, gt=0)
    greeting_timeout_s: float = Field(default=15.0, gt=0)
    response_timeout_s: float = Field(default=15.0, gt=0)
    realtime_model: str = "gpt-realtime"
    realtime_tools: bool = False  # declare check_availability / book_appointment (realtime only)
    seed: int = 0

    @field_validator("url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError(f"must start with ws:// or wss:// (got {value!r})")
        return value


def _ms(seconds: float) -> float:
    return seconds * 1000.0


class CallWorkload:
    """Phone calls, one per iteration (implements generator.workloads.base.Workload)."""

    def __init__(
        self,
        config: CallConfig,
        name: str = "calls",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._tags = {"protocol": config.protocol, "workload": name}
        headers, tls = config.transport(f"workloads.{name}.config")  # ${VAR}s expanded here
        self._settings = ClientSettings(
            url=config.url,
            connect_timeout_s=config.connect_timeout_s,
            greeting_timeout_s=config.greeting_timeout_s,
            response_timeout_s=config.response_timeout_s,
            clock=clock,
            headers=headers,
            ssl=tls,
        )
        self.utterances = self._build_utterances()  # InvalidInput for an unusable WAV file
        self._zeroed: set[int] = set()

    def _build_utterances(self) -> list[Frames]:
        config = self.config
        if config.audio_file:
            return [encode_audio(config.protocol, utterance_pcm(0, 0, config.audio_file))]
        count = max(1, min(config.turns, MAX_DISTINCT_UTTERANCES))
        return [
            encode_audio(
                config.protocol, utterance_pcm(config.utterance_ms, config.seed * 1000 + i)
            )
            for i in range(count)
        ]

    async def setup(self) -> None:
        await probe_tcp(self.config.url, self.config.connect_timeout_s)

    async def teardown(self) -> None:
        return None

    async def iteration(self, ctx: IterationContext) -> None:
        store, tags, clock = ctx.store, self._tags, self._clock
        self._zero(store)
        client = make_client(
            self.config.protocol,
            self._settings,
            ctx.rng,
            realtime_model=self.config.realtime_model,
            realtime_tools=self.config.realtime_tools,
        )

        def on_lag(lag_s: float) -> None:
            store.add_trend("send_lag", _ms(lag_s), tags)

        connected_at: float | None = None
        error: CallError | None = None
        try:
            connected_at = await client.connect()
            store.add_trend("connect_time", _ms(connected_at - ctx.intended_start), tags)
            greeting = await client.wait_greeting()
            store.add_trend("greeting_latency", _ms(greeting.first_audio_at - connected_at), tags)
            self._record_audio_gap(store, greeting)
            for turn in range(self.config.turns):
                await client.send_utterance(self.utterances[turn % len(self.utterances)], on_lag)
                ended_at = await client.end_utterance()
                response = await client.wait_response()
                store.add_trend("turn_latency", _ms(response.first_audio_at - ended_at), tags)
                store.add_trend("response_time", _ms(response.last_audio_at - ended_at), tags)
                self._record_audio_gap(store, response)
            await client.hangup()
            store.add_trend("call_duration", _ms(clock() - connected_at), tags)
        except CallError as exc:
            error = exc
        except (OSError, WebSocketException) as exc:  # a layer below failed unclassified
            error = classify_connect(exc) if connected_at is None else classify_session(exc)
        finally:
            await client.close()
        self._record_outcome(store, error)

    def _record_audio_gap(self, store: MetricsStore, response: ResponseTiming) -> None:
        store.add_trend("audio_gap", _ms(response.audio_gap_s), self._tags)

    def _record_outcome(self, store: MetricsStore, error: CallError | None) -> None:
        ok = error is None
        outcome = "succeeded" if ok else "failed"
        store.add_counter("calls_total", 1, {**self._tags, "outcome": outcome})
        store.add_rate("call_success", ok, self._tags)
        if error is not None:
            store.add_counter("errors_total", 1, {**error.tags, **self._tags, "kind": error.kind})

    def _zero(self, store: MetricsStore) -> None:
        # Thresholds on `calls_total{outcome:failed}` need the series to exist from the start.
        if id(store) not in self._zeroed:
            self._zeroed.add(id(store))
            for outcome in OUTCOMES:
                store.add_counter("calls_total", 0, {**self._tags, "outcome": outcome})


__all__ = ["CallConfig", "CallWorkload"]
