"""``stall``: the response starts (``response.created``) and then never comes; only a
``response.cancel`` or the client's own timeout ends the wait."""

from __future__ import annotations

from typing import ClassVar

from mocks.realtime.faults.base import Fault


class Stall(Fault):
    name: ClassVar[str] = "stall"
