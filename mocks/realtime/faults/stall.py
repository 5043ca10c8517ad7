"""``stall``: the response starts (``response.created``) and then never comes; only a
``response.cancel`` or the client's own timeout ends the wait. It replaces the response
(exclusive)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from mocks.realtime.faults.base import Chance, ResponseEffect, ResponseFault, ShapeContext
from mocks.realtime.outputs import Timeline, kind_of

STARTS = frozenset({"response.created", "rate_limits.updated"})


class Stall(ResponseFault, Chance):
    name: ClassVar[str] = "stall"
    shared_stream: ClassVar[bool] = True

    @classmethod
    def draw(cls, config: Stall | None, rng: random.Random) -> ResponseEffect | None:
        return Stalled() if Chance.roll(config, rng) else None


@dataclass(frozen=True)
class Stalled(ResponseEffect):
    name: str = "stall"
    exclusive: bool = True

    def shape(self, timeline: Timeline, ctx: ShapeContext) -> Timeline:
        return [(at, out) for at, out in timeline if kind_of(out) in STARTS]
