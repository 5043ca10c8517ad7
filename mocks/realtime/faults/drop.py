"""``drop``: the connection dies mid-response, either with a close frame 1011 (internal error) or
with an abrupt TCP reset (no close frame at all, as when a load balancer kills the socket)."""

from __future__ import annotations

from typing import ClassVar, Literal

from mocks.realtime.faults.base import Fault


class Drop(Fault):
    name: ClassVar[str] = "drop"
    mode: Literal["close_1011", "reset"] = "close_1011"
