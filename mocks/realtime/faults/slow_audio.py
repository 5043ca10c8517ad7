"""``slow_audio``: the response's audio deltas arrive ``factor`` times slower than real time, so a
caller's playback buffer runs dry (the generator's ``audio_gap``): the timeline from the first
delta on is stretched by the factor."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from mocks.realtime.faults.base import (
    Chance,
    ResponseEffect,
    ResponseFault,
    ShapeContext,
    first_delta_index,
)
from mocks.realtime.outputs import Timeline


class SlowAudio(ResponseFault, Chance):
    name: ClassVar[str] = "slow_audio"
    shared_stream: ClassVar[bool] = True
    factor: float = Field(default=2.0, ge=1.0)

    @classmethod
    def draw(cls, config: SlowAudio | None, rng: random.Random) -> ResponseEffect | None:
        if not Chance.roll(config, rng) or config is None:
            return None
        return Slowed(factor=config.factor)


@dataclass(frozen=True)
class Slowed(ResponseEffect):
    name: str = "slow_audio"
    factor: float = 2.0

    def shape(self, timeline: Timeline, ctx: ShapeContext) -> Timeline:
        first = first_delta_index(timeline)
        if first is None:
            return timeline
        origin = timeline[first][0]
        stretched = [(origin + (at - origin) * self.factor, out) for at, out in timeline[first:]]
        return timeline[:first] + stretched
