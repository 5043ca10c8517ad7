"""``rate_limit``: a response refused in-session, as OpenAI does when tokens run out: an ``error``
event with code ``rate_limit_exceeded`` and a ``response.done`` whose status is ``failed``."""

from __future__ import annotations

from typing import ClassVar

from mocks.realtime.faults.base import Fault


class RateLimit(Fault):
    name: ClassVar[str] = "rate_limit"
