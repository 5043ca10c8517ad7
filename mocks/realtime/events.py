"""Server event construction: ids, the GA/beta naming of event types, and the shapes shared by
many events (errors, items, content parts). The GA names are the canonical ones in this package;
a session speaking the beta protocol (``OpenAI-Beta: realtime=v1``) renames them on the way out.
"""

from __future__ import annotations

from typing import Any

from mocks.realtime.outputs import Close

Event = dict[str, Any]

# OpenAI's words since the beta shutdown (May 2026): the upgrade succeeds (HTTP 101), then this
# error event, then close 4000 with "<type>.<code>" as the reason.
BETA_REFUSAL_MESSAGE = (
    "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."
)

BETA_RENAMES: dict[str, str] = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
}
GA_ONLY: frozenset[str] = frozenset({"conversation.item.added", "conversation.item.done"})


class EventFactory:
    """Makes a session's server events: numbered ids, and the type named for the protocol."""

    def __init__(self, session_number: int, beta: bool) -> None:
        self.beta = beta
        self._tag = f"{session_number:05d}"
        self._counters: dict[str, int] = {}

    def new_id(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}_{self._tag}{n:06d}"

    def make(self, event_type: str, **fields: Any) -> Event:
        name = BETA_RENAMES.get(event_type, event_type) if self.beta else event_type
        return {"type": name, "event_id": self.new_id("event"), **fields}

    def applies(self, event_type: str) -> bool:
        """Whether this protocol has the event at all (GA added some the beta never sent)."""
        return not (self.beta and event_type in GA_ONLY)

    def error(
        self,
        code: str,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        client_event_id: str | None = None,
    ) -> Event:
        detail = {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        }
        return self.make("error", error=detail)

    def audio_part_type(self) -> str:
        return "audio" if self.beta else "output_audio"

    def assistant_item(
        self, item_id: str, status: str, transcript: str | None, done: bool
    ) -> dict[str, Any]:
        content = [{"type": self.audio_part_type(), "transcript": transcript}] if done else []
        return {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def function_call_item(
        self, item_id: str, status: str, call_id: str, name: str, arguments: str
    ) -> dict[str, Any]:
        return {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": status,
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
        }

    def user_audio_item(self, item_id: str) -> dict[str, Any]:
        return {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }


def usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    """A plausible ``usage`` block; audio counts as ~10 tokens per second, as OpenAI bills it."""
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": 0,
            "audio_tokens": input_tokens,
            "image_tokens": 0,
            "cached_tokens": 0,
        },
        "output_token_details": {"text_tokens": 0, "audio_tokens": output_tokens},
    }


def rate_limits(remaining_requests: int, remaining_tokens: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "requests",
            "limit": 5000,
            "remaining": remaining_requests,
            "reset_seconds": 0.012,
        },
        {"name": "tokens", "limit": 400000, "remaining": remaining_tokens, "reset_seconds": 0.3},
    ]


def beta_refusal(f: EventFactory) -> tuple[Event, Close]:
    """What OpenAI answers a session opened with ``OpenAI-Beta: realtime=v1``."""
    error = f.error("beta_api_shape_disabled", BETA_REFUSAL_MESSAGE)
    return error, Close(4000, "invalid_request_error.beta_api_shape_disabled")


def session_expired(f: EventFactory, max_s: float) -> tuple[Event, Close]:
    """What OpenAI sends when a session reaches its maximum duration: ``session_expired`` and a
    close 1001 (going away) with the same words."""
    message = f"Your session hit the maximum duration of {_duration(max_s)}."
    return f.error("session_expired", message), Close(1001, message)


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    whole = f"{seconds:g}"
    return f"{whole} second{'s' if whole != '1' else ''}"
