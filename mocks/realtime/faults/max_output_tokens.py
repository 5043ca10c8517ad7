"""``max_output_tokens``: the response reaches its output-token limit and stops short, as OpenAI
ends a response cut off by ``max_output_tokens``: its audio ends ``audio_ms`` after the first
delta, what closes the response comes at that cut, its items say ``incomplete`` and
``response.done`` says ``status: incomplete`` with ``reason: max_output_tokens``. A backend that
takes every answer as whole (waits for the rest of it, or treats the cut as an error and says
it again) shows itself. Draws from its own stream (see ``base.py``)."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import ClassVar

from pydantic import Field

from mocks.realtime.faults.base import Chance, ResponseEffect, ResponseFault, ShapeContext
from mocks.realtime.outputs import AUDIO_DELTAS, Close, Reset, Send, Timeline, kind_of

DETAILS = {"type": "incomplete", "reason": "max_output_tokens"}


class MaxOutputTokens(ResponseFault, Chance):
    name: ClassVar[str] = "max_output_tokens"
    audio_ms: float = Field(default=1000.0, gt=0)

    @classmethod
    def draw(cls, config: MaxOutputTokens | None, rng: random.Random) -> ResponseEffect | None:
        fired = Chance.roll(config, rng)
        return CutShort(audio_s=config.audio_ms / 1000) if fired and config is not None else None


@dataclass(frozen=True)
class CutShort(ResponseEffect):
    name: str = "max_output_tokens"
    audio_s: float = 1.0

    def shape(self, timeline: Timeline, ctx: ShapeContext) -> Timeline:
        audio = [at for at, out in timeline if kind_of(out) in AUDIO_DELTAS]
        if not audio or any(isinstance(out, Close | Reset) for _, out in timeline):
            return timeline  # no audio to cut, or the connection is lost anyway
        cut = audio[0] + self.audio_s
        if audio[-1] < cut:
            return timeline  # the answer fits under the limit
        kept = sum(1 for at in audio if at < cut)
        shaped: Timeline = []
        for at, out in timeline:
            if not isinstance(out, Send):
                continue
            kind = kind_of(out)
            if at >= cut and (kind in AUDIO_DELTAS or kind.endswith("transcript.delta")):
                continue  # what the model would have said past its limit
            if out.ends_response:
                done = ctx.done("incomplete", DETAILS, (40, kept))
                out = replace(out, event=done)
            elif isinstance(item := out.event.get("item"), dict) and "status" in item:
                out = replace(out, event={**out.event, "item": {**item, "status": "incomplete"}})
            shaped.append((min(at, cut), out))
        return shaped
