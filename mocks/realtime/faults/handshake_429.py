"""``handshake_429``: refuse the WebSocket upgrade with HTTP 429 and a ``Retry-After`` header, as
OpenAI does when an organisation is over its session rate. One roll per handshake."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from mocks.realtime.faults.base import Chance, HandshakeEffect, HandshakeFault, Refusal


class Handshake429(HandshakeFault, Chance):
    name: ClassVar[str] = "handshake_429"
    shared_stream: ClassVar[bool] = True
    retry_after_s: int = Field(default=1, ge=0)

    @classmethod
    def draw(cls, config: Handshake429 | None, rng: random.Random) -> HandshakeEffect | None:
        if not Chance.roll(config, rng) or config is None:
            return None
        return Refused(Refusal(cls.name, config.retry_after_s))


@dataclass(frozen=True)
class Refused(HandshakeEffect):
    refused: Refusal

    def refusal(self, open_sessions: Callable[[], int]) -> Refusal | None:
        return self.refused
