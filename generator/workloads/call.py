"""Voice calls: each iteration is one phone call over the native, Twilio or Realtime protocol.

A call connects, hears the assistant's greeting out (`greeting`: `wait` for one, `none` to speak
at once, `auto` to take one that starts within the greeting timeout), then plays the caller for
`turns` turns (an utterance sent at real-time pace, the end of its turn, the answer read to its
end, tool calls handled on the way) and hangs up. With `barge_in`, a seeded draw per turn makes
the caller start its next utterance `after_ms` into the answer's audio instead of waiting for the
answer to end. The caller's audio is built and encoded once, here, so a call only sends prepared
frames. This module knows no protocol: the clients (generator/protocols) do.

Every turn is timed as the caller lives it, the same in every protocol: from the caller's last
voiced frame (the send of its last frame with voice in it), so the backend's end-of-turn wait
(its VAD's silence) is part of the latency. An answer is audio that starts after that; a latency
at or below zero can only come from counting audio that is not the answer, and fails the call as
`protocol_error` {reason: answer_before_turn_end} with the figures in the error.

Metrics (trends in ms; every metric tagged `protocol` and `workload`):
  trend   `connect_time`      intended start of the iteration → connection open (no coordinated
                              omission: an open model's late start counts against the target)
  trend   `greeting_latency`  connection open → first greeting audio, only when there is one
  trend   `turn_latency`      voice-to-voice: the caller's last voiced frame sent → first audio of
                              the answer received
  trend   `response_time`     the same origin → last audio of the answer
  trend   `end_of_turn_delay` the same origin → the backend's VAD said the caller stopped
                              (native `speech_stopped`, Realtime
                              `input_audio_buffer.speech_stopped`; where the protocol shows it)
  trend   `audio_gap`         per response heard to its end (the greeting too): how much later
                              than real time its audio arrived
  trend   `send_lag`          per caller speech frame: actual send − scheduled send
  trend   `barge_in_reaction` the caller's first voiced frame over the answer → the backend
                              stopped the assistant (Twilio `clear`; native `response.done`
                              cancelled; Realtime `response.done` cancelled or
                              `output_audio_buffer.cleared`)
  counter `barge_in_ignored`  barge-ins after which the assistant was still talking `bound_ms`
                              after the caller began
  trend   `call_duration`     connection open → hung up, for calls that succeeded
  counter `calls_total`       {outcome: succeeded | failed}
  rate    `call_success`
  counter `errors_total`      {kind, status | code | reason}: see generator/protocols/errors.py
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from websockets.exceptions import WebSocketException

from generator.audio import utterance_pcm
from generator.metrics.store import MetricsStore
from generator.protocols import ClientSettings, encode_audio, make_client
from generator.protocols.base import (
    BargeIn,
    CallClient,
    GreetingMode,
    ResponseTiming,
    TurnEnd,
    Utterance,
)
from generator.protocols.errors import (
    CallError,
    ProtocolViolation,
    classify_connect,
    classify_session,
)
from generator.protocols.twilio_wire import twilio_url
from generator.workloads.base import IterationContext
from generator.workloads.probe import probe_tcp
from generator.workloads.twilio_sign import stream_signature_header
from generator.workloads.ws_options import WsOptions

OUTCOMES: Final = ("succeeded", "failed")
# Distinct synthetic utterances per workload; more turns cycle through them.
MAX_DISTINCT_UTTERANCES: Final = 4


class BargeInConfig(BaseModel):
    """The caller talking over answers: on a turn drawn with ``probability`` (seeded), the next
    utterance starts ``after_ms`` after the answer's audio began to play; an assistant still
    talking ``bound_ms`` after the caller began counts as `barge_in_ignored`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    after_ms: int = Field(default=500, ge=0, le=60_000)
    bound_ms: int = Field(default=2000, gt=0, le=60_000)


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
    # realtime only: the upstream's server VAD ends the turns (and stops at a barge-in)
    realtime_vad: bool = False
    greeting: GreetingMode = "auto"
    # Twilio: an assistant turn is over when the line has been quiet (nothing playing, nothing
    # arriving) this long; the line's silence is seeded low-level noise with line_noise.
    quiet_gap_ms: int = Field(default=700, ge=20, le=60_000)
    line_noise: bool = False
    barge_in: BargeInConfig | None = None
    # Twilio: sign the handshake as Twilio signs a Media Stream's (X-Twilio-Signature over the
    # URL), keyed with $TWILIO_AUTH_TOKEN, read where the traffic is sent.
    signed: bool = False
    seed: int = 0

    @field_validator("url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError(f"must start with ws:// or wss:// (got {value!r})")
        return value

    @model_validator(mode="after")
    def _signed_is_twilio(self) -> CallConfig:
        if self.signed and self.protocol != "twilio":
            raise ValueError(f"signed applies to protocol twilio only (got {self.protocol!r})")
        return self


_frozen = False


def _freeze_startup_heap() -> None:
    """Once per process, before its first call: what is alive then (modules, configs, the
    encoded audio) lives as long as the run, so it goes out of the cyclic collector's reach
    (collected first, so no garbage is kept). A full collection then walks only the calls' own
    objects: walking callbench's startup heap alone takes ~40 ms of CPU, and with 750 calls up
    a full collection (one in a 20 s run) held every call's next frames for 50-130 ms."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


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
        if config.signed:  # over the URL the stream opens, as Twilio's <Stream url> names it
            stream_url = twilio_url(config.url)
            headers += (stream_signature_header(stream_url, f"workloads.{name}.config"),)
        self._settings = ClientSettings(
            url=config.url,
            connect_timeout_s=config.connect_timeout_s,
            greeting_timeout_s=config.greeting_timeout_s,
            response_timeout_s=config.response_timeout_s,
            clock=clock,
            headers=headers,
            ssl=tls,
            quiet_gap_s=config.quiet_gap_ms / 1000.0,
            line_noise=config.line_noise,
        )
        self.utterances = self._build_utterances()  # InvalidInput for an unusable WAV file
        self._zeroed: set[int] = set()

    def _build_utterances(self) -> list[Utterance]:
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
        _freeze_startup_heap()

    async def teardown(self) -> None:
        return None

    async def iteration(self, ctx: IterationContext) -> None:
        store, tags, clock, config = ctx.store, self._tags, self._clock, self.config
        self._zero(store)
        client = make_client(
            config.protocol,
            self._settings,
            ctx.rng,
            realtime_model=config.realtime_model,
            realtime_tools=config.realtime_tools,
            realtime_vad=config.realtime_vad,
        )

        add_trend = store.add_trend

        def on_lag(lag_s: float) -> None:  # every speech frame: kept to one call
            add_trend("send_lag", lag_s * 1000.0, tags)

        connected_at: float | None = None
        error: CallError | None = None
        try:
            connected_at = await client.connect()
            store.add_trend("connect_time", _ms(connected_at - ctx.intended_start), tags)
            greeting = await client.wait_greeting(config.greeting)
            if greeting is not None:
                latency = greeting.first_audio_at - connected_at
                store.add_trend("greeting_latency", _ms(latency), tags)
                self._record_audio_gap(store, greeting)
            await self._turns(ctx, client, on_lag)
            await client.hangup()
            store.add_trend("call_duration", _ms(clock() - connected_at), tags)
        except CallError as exc:
            error = exc
        except (OSError, WebSocketException) as exc:  # a layer below failed unclassified
            error = classify_connect(exc) if connected_at is None else classify_session(exc)
        finally:
            await client.close()
        self._record_outcome(store, error)

    async def _turns(
        self, ctx: IterationContext, client: CallClient, on_lag: Callable[[float], None]
    ) -> None:
        store, tags, config, utterances = ctx.store, self._tags, self.config, self.utterances
        barge = config.barge_in
        spoken = False  # the turn's utterance already went out, over the last answer
        for turn in range(config.turns):
            if not spoken:
                await client.send_utterance(utterances[turn % len(utterances)], on_lag)
            end = await client.end_utterance()
            spoken = False
            # Drawn on every turn that has a next utterance to cut in with, so the same seed
            # makes the same choices whatever the target does.
            if (
                barge is not None
                and turn + 1 < config.turns
                and ctx.rng.random() < barge.probability
            ):
                outcome = await client.barge_in(
                    utterances[(turn + 1) % len(utterances)],
                    barge.after_ms / 1000.0,
                    barge.bound_ms / 1000.0,
                    on_lag,
                )
                self._record_barge_in(store, end, outcome)
                spoken = True
                continue
            response = await client.wait_response()
            _check_answer(end, response.first_audio_at, response.last_audio_at)
            origin = end.voiced_at
            store.add_trend("turn_latency", _ms(response.first_audio_at - origin), tags)
            store.add_trend("response_time", _ms(response.last_audio_at - origin), tags)
            if response.speech_stopped_at is not None:
                delay = response.speech_stopped_at - origin
                store.add_trend("end_of_turn_delay", _ms(delay), tags)
            self._record_audio_gap(store, response)

    def _record_barge_in(self, store: MetricsStore, end: TurnEnd, outcome: BargeIn) -> None:
        tags = self._tags
        _check_answer(end, outcome.first_audio_at, outcome.first_audio_at)
        store.add_trend("turn_latency", _ms(outcome.first_audio_at - end.voiced_at), tags)
        if outcome.speech_at is None:
            return  # the answer was over before the caller cut in: nothing to react to
        if outcome.stopped_at is not None:
            reaction = outcome.stopped_at - outcome.speech_at
            store.add_trend("barge_in_reaction", _ms(reaction), tags)
        if outcome.ignored:
            store.add_counter("barge_in_ignored", 1, tags)

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
            if self.config.barge_in is not None:
                store.add_counter("barge_in_ignored", 0, self._tags)


def _check_answer(end: TurnEnd, first_at: float, last_at: float) -> None:
    """An answer starts after the turn it answers: anything else is audio that is not the
    answer, counted as if it were, and no latency of it may be recorded."""
    if first_at > end.voiced_at and last_at >= first_at:
        return
    raise ProtocolViolation(
        f"the 'answer' began {(first_at - end.voiced_at) * 1000:.1f} ms after the caller's last "
        f"voiced frame (ended {(last_at - end.voiced_at) * 1000:.1f} ms after it): audio that "
        "began before the turn ended is not its answer",
        {"reason": "answer_before_turn_end"},
    )


__all__ = ["BargeInConfig", "CallConfig", "CallWorkload"]
