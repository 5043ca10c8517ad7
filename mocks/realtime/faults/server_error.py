"""``server_error``: the response fails on OpenAI's side after its first audio: an ``error`` event
of type ``server_error`` and a ``response.done`` whose status is ``failed``, while the session
stays open (unlike ``drop``, which loses the connection). A backend that treats every ``error``
as fatal, or never retries the turn, shows itself. Draws from its own stream (see ``base.py``)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from mocks.realtime.faults.base import (
    Chance,
    ResponseEffect,
    ResponseFault,
    ShapeContext,
    first_delta_index,
)
from mocks.realtime.outputs import Close, Reset, Send, Timeline, kind_of

MESSAGE = "The server had an error while processing your request. Sorry about that!"


class ServerError(ResponseFault, Chance):
    name: ClassVar[str] = "server_error"

    @classmethod
    def draw(cls, config: ServerError | None, rng: random.Random) -> ResponseEffect | None:
        return Failed() if Chance.roll(config, rng) else None


@dataclass(frozen=True)
class Failed(ResponseEffect):
    name: str = "server_error"

    def shape(self, timeline: Timeline, ctx: ShapeContext) -> Timeline:
        first = first_delta_index(timeline)
        if first is None or any(isinstance(out, Close | Reset) for _, out in timeline):
            return timeline  # nothing to fail after, or the connection is lost anyway
        last = first + 1 if kind_of(timeline[first + 1][1]).endswith("transcript.delta") else first
        at = timeline[first][0]
        f, rid = ctx.factory, ctx.response_id
        error = f.error("server_error", MESSAGE, error_type="server_error")
        details = {"type": "failed", "error": {"type": "server_error", "message": MESSAGE}}
        done = ctx.done("failed", details, (40, 0))
        return [
            *timeline[: last + 1],
            (at, Send(error)),
            (at, Send(done, rid, ends_response=True)),
        ]
