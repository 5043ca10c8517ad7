"""The stages' composers: they run the registry's faults of one stage in registry order (the
draw order) and know nothing of any single fault, as Toxiproxy's link chains its toxics.

- ``draw_handshake``: each handshake fault's draw; ``refusal`` then asks the drawn effects, in
  order, whether the upgrade is refused (the server draws the session's seed in between, as
  before: a 429 roll, the seed, then the refusals);
- ``session_options``: the session faults applied to a new session's options;
- ``draw_response_plan``: each response fault's draw; the first exclusive effect drawn (a rate
  limit, a stall) replaces the response, otherwise every effect drawn applies, in order.

Every fault's draw consumes the same numbers on or off, so switching a fault on or off changes
that fault only, never the others' draws; ``FaultStreams`` says which stream each draws from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mocks.realtime.faults import REGISTRY, FaultsConfig
from mocks.realtime.faults.base import (
    FaultStreams,
    HandshakeEffect,
    HandshakeFault,
    Refusal,
    ResponseEffect,
    ResponseFault,
    SessionFault,
    SessionOptions,
)

HANDSHAKE = [f for f in REGISTRY.values() if issubclass(f, HandshakeFault)]
SESSION = [f for f in REGISTRY.values() if issubclass(f, SessionFault)]
RESPONSE = [f for f in REGISTRY.values() if issubclass(f, ResponseFault)]


def draw_handshake(faults: FaultsConfig, streams: FaultStreams) -> list[HandshakeEffect]:
    drawn = [fault.draw(faults.get(fault), streams.of(fault)) for fault in HANDSHAKE]
    return [effect for effect in drawn if effect is not None]


def refusal(effects: list[HandshakeEffect], open_sessions: Callable[[], int]) -> Refusal | None:
    for effect in effects:
        if (refused := effect.refusal(open_sessions)) is not None:
            return refused
    return None


def session_options(faults: FaultsConfig, options: SessionOptions) -> SessionOptions:
    for fault in SESSION:
        if (config := faults.get(fault)) is not None:
            options = config.configure(options)
    return options


@dataclass(frozen=True)
class ResponsePlan:
    """What happens to one response: the effects that took effect, in draw order."""

    effects: tuple[ResponseEffect, ...] = ()

    @property
    def fired(self) -> tuple[str, ...]:
        return tuple(effect.name for effect in self.effects)

    @property
    def latency_ms(self) -> float:
        return sum(effect.latency_ms for effect in self.effects)

    @property
    def exclusive(self) -> bool:
        return any(effect.exclusive for effect in self.effects)

    @property
    def keeps_reply(self) -> bool:
        return all(effect.keeps_reply for effect in self.effects)


HEALTHY = ResponsePlan()


def draw_response_plan(faults: FaultsConfig, streams: FaultStreams) -> ResponsePlan:
    """The plan of one response; consumes the same number of draws for the same config."""
    drawn = [fault.draw(faults.get(fault), streams.of(fault)) for fault in RESPONSE]
    fired = [effect for effect in drawn if effect is not None]
    exclusive = [effect for effect in fired if effect.exclusive]
    return ResponsePlan(tuple(exclusive[:1]) if exclusive else tuple(fired))
