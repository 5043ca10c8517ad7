"""``handshake_429``: refuse the WebSocket upgrade with HTTP 429 and a ``Retry-After`` header, as
OpenAI does when an organisation is over its session rate."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mocks.realtime.faults.base import Fault


class Handshake429(Fault):
    name: ClassVar[str] = "handshake_429"
    retry_after_s: int = Field(default=1, ge=0)
