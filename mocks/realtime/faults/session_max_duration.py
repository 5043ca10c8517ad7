"""``session_max_duration``: how long a session may last before the upstream ends it, as OpenAI
ends every Realtime session after 60 minutes (the default when this is off): an ``error`` event
``session_expired`` and a close 1001 "Your session hit the maximum duration of …". Drills set it
to seconds, so a backend that does not reconnect shows itself quickly. Not random: no draw."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from pydantic import Field

from mocks.realtime.faults.base import SessionFault, SessionOptions


class SessionMaxDuration(SessionFault):
    name: ClassVar[str] = "session_max_duration"
    seconds: float = Field(gt=0.0, le=24 * 3600.0)

    def configure(self, options: SessionOptions) -> SessionOptions:
        return replace(options, max_duration_s=self.seconds)
