"""``rate_limit``: a response refused in-session, as OpenAI does when tokens run out: an ``error``
event with code ``rate_limit_exceeded`` and a ``response.done`` whose status is ``failed``. It
replaces the response (exclusive) and the script does not move on (the model never started)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from mocks.realtime.events import rate_limits
from mocks.realtime.faults.base import Chance, ResponseEffect, ResponseFault, ShapeContext
from mocks.realtime.outputs import Send, Timeline, kind_of

MESSAGE = "Rate limit reached for requests. Please try again in 1s."


class RateLimit(ResponseFault, Chance):
    name: ClassVar[str] = "rate_limit"
    shared_stream: ClassVar[bool] = True

    @classmethod
    def draw(cls, config: RateLimit | None, rng: random.Random) -> ResponseEffect | None:
        return RateLimited() if Chance.roll(config, rng) else None


@dataclass(frozen=True)
class RateLimited(ResponseEffect):
    name: str = "rate_limit"
    exclusive: bool = True
    keeps_reply: bool = False

    def shape(self, timeline: Timeline, ctx: ShapeContext) -> Timeline:
        f, rid = ctx.factory, ctx.response_id
        created = [(at, out) for at, out in timeline if kind_of(out) == "response.created"]
        limits = f.make("rate_limits.updated", rate_limits=rate_limits(0, 0))
        error = f.error("rate_limit_exceeded", MESSAGE, error_type="rate_limit_error")
        details = {
            "type": "failed",
            "error": {
                "type": "rate_limit_error",
                "code": "rate_limit_exceeded",
                "message": MESSAGE,
            },
        }
        done = ctx.done("failed", details, (0, 0))
        return [
            *created,
            (0.0, Send(limits, rid)),
            (0.0, Send(error)),
            (0.0, Send(done, rid, ends_response=True)),
        ]
