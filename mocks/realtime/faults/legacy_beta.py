"""``legacy_beta``: serve the retired beta shape (``OpenAI-Beta: realtime=v1``) to old clients
instead of refusing it as OpenAI does since May 2026 (``beta_api_shape_disabled``, close 4000).
The same switch as the ``--legacy-beta`` flag; present = on. Applies to the next handshake."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from mocks.realtime.faults.base import SessionFault, SessionOptions


class LegacyBeta(SessionFault):
    name: ClassVar[str] = "legacy_beta"

    def configure(self, options: SessionOptions) -> SessionOptions:
        return replace(options, legacy_beta=True)
