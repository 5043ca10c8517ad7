"""``legacy_beta``: serve the retired beta shape (``OpenAI-Beta: realtime=v1``) to old clients
instead of refusing it as OpenAI does since May 2026 (``beta_api_shape_disabled``, close 4000).
The same switch as the ``--legacy-beta`` flag; present = on. Applies to the next handshake."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class LegacyBeta(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str] = "legacy_beta"
