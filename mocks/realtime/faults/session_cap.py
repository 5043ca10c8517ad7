"""``session_cap``: at most ``max_sessions`` sessions at once; the next handshake gets HTTP 429.
It has no probability and draws nothing: a capacity limit is not random."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from mocks.realtime.faults.base import HandshakeEffect, HandshakeFault, Refusal


class SessionCap(HandshakeFault):
    name: ClassVar[str] = "session_cap"
    max_sessions: int = Field(ge=0)
    retry_after_s: int = Field(default=1, ge=0)

    @classmethod
    def draw(cls, config: SessionCap | None, rng: random.Random) -> HandshakeEffect | None:
        return None if config is None else AtCapacity(config.max_sessions, config.retry_after_s)


@dataclass(frozen=True)
class AtCapacity(HandshakeEffect):
    max_sessions: int
    retry_after_s: int

    def refusal(self, open_sessions: Callable[[], int]) -> Refusal | None:
        if open_sessions() >= self.max_sessions:
            return Refusal(SessionCap.name, self.retry_after_s)
        return None
