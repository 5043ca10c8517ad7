"""``drop``: the connection dies mid-response, either with a close frame 1011 (internal error) or
with an abrupt TCP reset (no close frame at all, as when a load balancer kills the socket). At
least the first delta goes out; ``drop_at`` (drawn every time, fired or not) is the fraction of
the response's deltas sent before the drop."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import ClassVar, Literal

from mocks.realtime.faults.base import Chance, ResponseEffect, ResponseFault, ShapeContext
from mocks.realtime.outputs import Close, Output, Reset, Timeline, kind_of

DropMode = Literal["close_1011", "reset"]
DELTAS = frozenset(
    {
        "response.output_audio.delta",
        "response.audio.delta",
        "response.function_call_arguments.delta",
    }
)


class Drop(ResponseFault, Chance):
    name: ClassVar[str] = "drop"
    shared_stream: ClassVar[bool] = True
    mode: DropMode = "close_1011"

    @classmethod
    def draw(cls, config: Drop | None, rng: random.Random) -> ResponseEffect | None:
        dropped = Chance.roll(config, rng)
        drop_at = rng.random()
        if not dropped or config is None:
            return None
        return Dropped(mode=config.mode, drop_at=drop_at)


@dataclass(frozen=True)
class Dropped(ResponseEffect):
    name: str = "drop"
    mode: DropMode = "close_1011"
    drop_at: float = 0.5

    def shape(self, timeline: Timeline, ctx: ShapeContext) -> Timeline:
        deltas = [i for i, (_, out) in enumerate(timeline) if kind_of(out) in DELTAS]
        if not deltas:
            return timeline
        keep = max(1, math.ceil(self.drop_at * len(deltas)))
        last = deltas[min(keep, len(deltas)) - 1]
        # The transcript delta that went out with the last audio delta goes too.
        if last + 1 < len(timeline) and kind_of(timeline[last + 1][1]).endswith("transcript.delta"):
            last += 1
        rid = ctx.response_id
        drop: Output = (
            Close(1011, "upstream internal error", rid) if self.mode == "close_1011" else Reset(rid)
        )
        return [*timeline[: last + 1], (timeline[last][0], drop)]
