"""``slow_audio``: the response's audio deltas arrive ``factor`` times slower than real time, so a
caller's playback buffer runs dry (the generator's ``audio_gap``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mocks.realtime.faults.base import Fault


class SlowAudio(Fault):
    name: ClassVar[str] = "slow_audio"
    factor: float = Field(default=2.0, ge=1.0)
