"""Test helpers for the fake Realtime upstream: a driver that runs the sans-I/O session on a
made-up clock (no sockets, no sleeping), and small event utilities."""

from __future__ import annotations

import base64
import json
import random
import typing
from typing import Any

from openai.types.realtime.realtime_server_event import RealtimeServerEvent
from pydantic import BaseModel

from mocks.realtime.faults import FaultsConfig, parse_faults
from mocks.realtime.outputs import Close, Output, Reset, Send
from mocks.realtime.script import ScriptConfig
from mocks.realtime.session import RealtimeSession
from mocks.realtime.speech import AudioFormat, speech

MANUAL_TURNS = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
TOOLS = [
    {"type": "function", "name": "check_availability", "parameters": {"type": "object"}},
    {"type": "function", "name": "book_appointment", "parameters": {"type": "object"}},
]


class Driver:
    """Feeds a session client events at chosen times and collects what it sends, with when."""

    def __init__(
        self,
        faults: dict[str, Any] | None = None,
        *,
        beta: bool = False,
        legacy_beta: bool = False,
        seed: int = 0,
        script: ScriptConfig | None = None,
    ) -> None:
        self.faults: FaultsConfig = parse_faults(faults)
        self.now = 0.0
        self.session = RealtimeSession(
            number=1,
            model="gpt-realtime",
            beta=beta,
            rng=random.Random(seed),
            faults=lambda: self.faults,
            script=script or ScriptConfig(greeting_ms=200, answer_ms=300, chunk_ms=50),
            now=self.now,
            legacy_beta=legacy_beta,
        )
        self.log: list[tuple[float, Output]] = []
        self._flush()

    def send(self, event: dict[str, Any] | str | bytes, at: float | None = None) -> None:
        if at is not None:
            self.advance(at)
        message = event if isinstance(event, str | bytes) else json.dumps(event)
        self.session.receive(message, self.now)
        self._flush()

    def advance(self, until: float) -> None:
        """Run the clock to ``until``, sending everything that falls due on the way."""
        while (deadline := self.session.next_deadline()) is not None and deadline <= until:
            self.now = max(self.now, deadline)
            self._flush()
        self.now = max(self.now, until)
        self._flush()

    def run_idle(self, quiet: float = 30.0) -> None:
        """Run until ``quiet`` seconds of made-up time would pass with nothing due (the session's
        far-off deadlines, such as its maximum duration, stay pending)."""
        while (deadline := self.session.next_deadline()) is not None and deadline <= (
            self.now + quiet
        ):
            self.now = max(self.now, deadline)
            self._flush()

    def _flush(self) -> None:
        for output in self.session.due(self.now):
            self.session.sent(output, self.now)
            self.log.append((self.now, output))

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            o.event
            for _, o in self.log
            if isinstance(o, Send) and (kind is None or o.event["type"] == kind)
        ]

    def times(self, kind: str) -> list[float]:
        return [t for t, o in self.log if isinstance(o, Send) and o.event["type"] == kind]

    def types(self) -> list[str]:
        return [o.event["type"] if isinstance(o, Send) else type(o).__name__ for _, o in self.log]

    def closes(self) -> list[Close | Reset]:
        return [o for _, o in self.log if isinstance(o, Close | Reset)]

    def clear(self) -> None:
        self.log.clear()


def audio_b64(ms: int, fmt: AudioFormat = AudioFormat.PCM16) -> str:
    return base64.b64encode(speech(fmt, ms, 2)).decode("ascii")


def silence_b64(ms: int, fmt: AudioFormat = AudioFormat.PCM16) -> str:
    byte = {AudioFormat.PCM16: 0, AudioFormat.PCMU: 0xFF, AudioFormat.PCMA: 0xD5}[fmt]
    return base64.b64encode(bytes([byte]) * fmt.bytes_for_ms(ms)).decode("ascii")


def user_turn(driver: Driver, ms: int = 300) -> None:
    driver.send({"type": "input_audio_buffer.append", "audio": audio_b64(ms)})
    driver.send({"type": "input_audio_buffer.commit"})
    driver.send({"type": "response.create"})


def _sdk_models() -> dict[str, type[BaseModel]]:
    union = typing.get_args(RealtimeServerEvent)[0]
    models: dict[str, type[BaseModel]] = {}
    for model in typing.get_args(union):
        for literal in typing.get_args(model.model_fields["type"].annotation):
            models[literal] = model
    return models


SDK_MODELS = _sdk_models()


def check_sdk_shape(event: dict[str, Any]) -> None:
    """Validate ``event`` strictly against the official openai SDK's model for its type."""
    model = SDK_MODELS[event["type"]]
    model.model_validate(event)
