"""The small interface every fault of the fake Realtime upstream implements, after Toxiproxy's
``toxics/toxic.go``: a fault is a frozen, validated config (its section of the faults document)
that knows its seeded draw and its effect, at one of three stages:

- ``HandshakeFault``: drawn at each WebSocket upgrade; its effect may refuse it (HTTP 429);
- ``SessionFault``: no draw; sets an option of each new session (maximum duration, beta shape);
- ``ResponseFault``: drawn at each response; its effect reshapes the response's timeline.

``draw`` is a classmethod that takes the config or None (the fault is off) and consumes the same
draws either way, so switching one fault on or off never shifts another's draws. The stages'
composers (``plan.py``) run the faults of the registry in its order; that order is the draw order.

Streams (``FaultStreams``): the six faults that existed before this interface (``shared_stream``)
draw from the one stream of the session (or server), in registry order, exactly as they always
did, so seeded runs recorded before stay identical. Every fault added since draws from a stream of
its own, seeded from that stream's starting state and the fault's name: adding a fault, on or off,
shifts no other fault's draws.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from mocks.faults import Probability, roll
from mocks.realtime.events import EventFactory
from mocks.realtime.outputs import Timeline


class Fault(BaseModel):
    """A fault's config: frozen, unknown keys refused. ``name`` is its key in the document and
    its ``kind`` label in the metrics; ``document_type`` is what pydantic validates that section
    as (the class itself, or a union such as the latency distributions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    document_type: ClassVar[Any] = None
    shared_stream: ClassVar[bool] = False  # True only for the faults older than this interface


class FaultStreams:
    """The random streams faults draw from: the shared one, and one per newer fault."""

    def __init__(self, shared: random.Random) -> None:
        self.shared = shared
        self._origin = repr(shared.getstate()).encode()  # before any draw: deterministic
        self._own: dict[str, random.Random] = {}

    def of(self, fault: type[Fault]) -> random.Random:
        if fault.shared_stream:
            return self.shared
        stream = self._own.get(fault.name)
        if stream is None:
            digest = hashlib.sha256(self._origin + b"/" + fault.name.encode()).digest()
            stream = self._own[fault.name] = random.Random(int.from_bytes(digest[:8], "big"))
        return stream


class Chance(BaseModel):
    """A ``probability`` (Toxiproxy's "toxicity") and its one seeded roll."""

    probability: Probability = 1.0

    @staticmethod
    def roll(config: Chance | None, rng: random.Random) -> bool:
        """One draw whether on or off: an absent fault rolls probability 0."""
        return roll(rng, config.probability if config is not None else 0.0)


# -- the handshake stage --------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    reason: str  # the `reason` label and stats outcome: the fault's name
    retry_after_s: int


class HandshakeEffect:
    def refusal(self, open_sessions: Callable[[], int]) -> Refusal | None:
        raise NotImplementedError


class HandshakeFault(Fault):
    @classmethod
    def draw(cls, config: Any, rng: random.Random) -> HandshakeEffect | None:
        raise NotImplementedError


# -- the session stage ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionOptions:
    legacy_beta: bool = False
    max_duration_s: float = 3600.0  # OpenAI closes a Realtime session after 60 minutes


class SessionFault(Fault):
    def configure(self, options: SessionOptions) -> SessionOptions:
        raise NotImplementedError


# -- the response stage ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShapeContext:
    """What an effect may need to reshape a response: its factory and id, and how to write a
    ``response.done`` of a given status (``status, status_details, tokens``)."""

    factory: EventFactory
    response_id: str
    done: Callable[[str, dict[str, Any] | None, tuple[int, int]], dict[str, Any]]


@dataclass(frozen=True)
class ResponseEffect:
    """What a fired response fault does. ``exclusive``: it replaces the response, so the first
    exclusive effect drawn is the only one applied; ``keeps_reply``: the script still moves on
    (False when the response is refused before the model starts)."""

    name: str
    exclusive: bool = False
    keeps_reply: bool = True
    latency_ms: float = 0.0

    def shape(self, timeline: Timeline, ctx: ShapeContext) -> Timeline:
        return timeline


class ResponseFault(Fault):
    @classmethod
    def draw(cls, config: Any, rng: random.Random) -> ResponseEffect | None:
        raise NotImplementedError


def first_delta_index(timeline: Timeline) -> int | None:
    """Where the response's first delta sits in its timeline (None: it has none)."""
    for i, (_, output) in enumerate(timeline):
        if getattr(output, "first_delta", False):
            return i
    return None
