"""What the session state machine asks its I/O shell to do: send an event, close with a code, or
reset the TCP connection. ``response_id`` ties an output to the response it belongs to (so a
cancel can withdraw what is still pending); ``first_delta`` marks the output whose send time is
the response's measured latency; ``ends_response`` marks the last event of a response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Send:
    event: dict[str, Any]
    response_id: str | None = None
    first_delta: bool = False
    ends_response: bool = False


@dataclass(frozen=True)
class Close:
    code: int
    reason: str
    response_id: str | None = None


@dataclass(frozen=True)
class Reset:
    response_id: str | None = None


Output = Send | Close | Reset

# One response as it will go out: each output at its offset (seconds) from the response's start.
Timeline = list[tuple[float, Output]]


# A response's audio deltas under both protocols' names (GA, beta).
AUDIO_DELTAS = frozenset({"response.output_audio.delta", "response.audio.delta"})


def kind_of(output: Output) -> str:
    """The event type an output sends ("" for a close or a reset)."""
    return str(output.event.get("type", "")) if isinstance(output, Send) else ""
