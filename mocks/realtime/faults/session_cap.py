"""``session_cap``: at most ``max_sessions`` sessions at once; the next handshake gets HTTP 429.
It has no probability: a capacity limit is not random."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class SessionCap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str] = "session_cap"
    max_sessions: int = Field(ge=0)
    retry_after_s: int = Field(default=1, ge=0)
