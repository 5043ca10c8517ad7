"""Reading client events: ``BadEvent``, the refusal that becomes an ``error`` event (never a
crash), ``parse_client_event`` (a frame to a JSON object) and ``field_of``, which fetches a
required field of a type or refuses with OpenAI's wording (``missing_required_parameter`` /
``invalid_type``)."""

from __future__ import annotations

import json
from typing import Any


class BadEvent(Exception):
    """A client event the session refuses; becomes an ``error`` event, never a crash."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def field_of(event: dict[str, Any], name: str, kind: type, param: str | None = None) -> Any:
    value = event.get(name)
    if value is None:
        raise BadEvent(
            "missing_required_parameter", f"Missing required parameter: '{name}'.", param or name
        )
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadEvent(
            "invalid_type", f"Invalid type for '{name}': expected {kind.__name__}.", param or name
        )
    return value


def parse_client_event(message: str | bytes) -> dict[str, Any]:
    """A frame as a JSON object, or BadEvent with OpenAI's code for what is wrong with it."""
    if isinstance(message, bytes):
        raise BadEvent("invalid_message", "Binary frames are not supported; send JSON text.")
    try:
        event = json.loads(message)
    except (ValueError, RecursionError):
        raise BadEvent("invalid_json", "The message is not valid JSON.") from None
    if not isinstance(event, dict):
        raise BadEvent("invalid_json", "The message must be a JSON object.")
    return event
