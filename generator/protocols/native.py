"""The client side of the mock backend's native call protocol (docs/protocol.md).

`GET /ws/voice/{session_id}`; caller audio goes up as binary frames of 20 ms of PCM16 24 kHz
(960 bytes), the end of speech as `{"type": "end_of_utterance"}`; the backend answers with
`session.ready`, then per response `response.started`, `audio` (base64 PCM16), `transcript`,
`tool_call` notices and `response.done`; `error` and `hangup` frames end the call.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection

from generator.audio import PCM_FRAME_BYTES, PCM_RATE, split_frames
from generator.protocols.base import (
    ClientSettings,
    Deadline,
    Frames,
    LagSink,
    ResponseTiming,
    ResponseTracker,
    b64_size,
    close_quietly,
    open_ws,
    parse_event,
    receive,
    send,
)
from generator.protocols.errors import (
    GreetingTimeout,
    ProtocolViolation,
    ResponseTimeout,
    ServerError,
    SessionClosed,
    SessionFailed,
)
from generator.protocols.pacing import send_paced

PCM_BYTES_PER_S: Final = PCM_RATE * 2
VOICE_PATH: Final = "/ws/voice"
END_OF_UTTERANCE: Final = json.dumps({"type": "end_of_utterance"})
HANGUP: Final = json.dumps({"type": "hangup"})


def encode_native(pcm: bytes) -> list[bytes]:
    """Canonical audio as the native protocol's binary frames (960 bytes each)."""
    return split_frames(pcm, PCM_FRAME_BYTES)


def session_id(rng: random.Random) -> str:
    """A fresh, seeded session id (the same seed makes the same calls)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def native_url(url: str, sid: str) -> str:
    """The call's URL: `{session_id}`/`{id}` replaced, or `/ws/voice/{id}` appended to a bare
    backend URL or to one ending in `/ws/voice`."""
    for placeholder in ("{session_id}", "{id}"):
        if placeholder in url:
            return url.replace(placeholder, sid)
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path in ("", VOICE_PATH) or path.endswith(VOICE_PATH):
        path = (path or VOICE_PATH) + "/" + sid
    return urlunsplit(parts._replace(path=path))


class NativeClient:
    """One call over the native protocol."""

    protocol = "native"

    def __init__(self, settings: ClientSettings, rng: random.Random) -> None:
        self.settings = settings
        self.url = native_url(settings.url, session_id(rng))
        self._clock = settings.clock
        self._ws: ClientConnection | None = None

    @property
    def ws(self) -> ClientConnection:
        if self._ws is None:
            raise ProtocolViolation("not connected")
        return self._ws

    async def connect(self) -> float:
        self._ws = await open_ws(
            self.url,
            self.settings.connect_timeout_s,
            self.settings.headers,
            clock=self._clock,
            ssl_context=self.settings.ssl,
        )
        return self._clock()

    async def wait_greeting(self) -> ResponseTiming:
        return await self._read_response(
            Deadline(self._clock, self.settings.greeting_timeout_s, GreetingTimeout)
        )

    async def send_utterance(self, frames: Frames, on_lag: LagSink) -> None:
        ws = self.ws

        async def send_frame(_k: int, frame: str | bytes, _due: float) -> None:
            await send(ws, frame)

        await send_paced(frames, send_frame, clock=self._clock, on_lag=on_lag)

    async def end_utterance(self) -> float:
        await send(self.ws, END_OF_UTTERANCE)
        return self._clock()

    async def wait_response(self) -> ResponseTiming:
        return await self._read_response(
            Deadline(self._clock, self.settings.response_timeout_s, ResponseTimeout)
        )

    async def hangup(self) -> None:
        ws = self.ws
        await send(ws, HANGUP)
        # The backend answers `hangup` and closes 1000; anything else still ends the call.
        deadline = Deadline(self._clock, self.settings.response_timeout_s, ResponseTimeout)
        try:
            while True:
                message, _at = await receive(ws, deadline)
                if isinstance(message, str) and parse_event(message).get("type") == "hangup":
                    break
        except SessionClosed as exc:
            if exc.code != 1000:
                raise
        await self.close()

    async def close(self) -> None:
        await close_quietly(self._ws)

    async def _read_response(self, deadline: Deadline) -> ResponseTiming:
        """Read one response to its `response.done`; responses without audio (a tool's turn)
        are read through, since the spoken answer follows them."""
        ws = self.ws
        tracker = ResponseTracker()
        while True:
            message, now = await receive(ws, deadline)
            if isinstance(message, bytes):
                tracker.audio(now, len(message) / PCM_BYTES_PER_S)
                deadline.extend()
                continue
            event = parse_event(message)
            kind = event.get("type")
            if kind == "audio":
                tracker.audio(now, b64_size(_str(event, "audio")) / PCM_BYTES_PER_S)
                deadline.extend()
            elif kind == "response.done":
                if event.get("status") == "failed":
                    raise ServerError("response_failed", "the backend's response failed")
                if tracker.has_audio:
                    return tracker.finish(now)
            elif kind == "tool_call":
                tracker.tool_calls += 1
                deadline.extend()
            elif kind == "error":
                raise _server_error(event)
            elif kind == "hangup":
                raise SessionClosed(1000, f"the backend hung up: {event.get('reason', '')}")


def _str(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str):
        raise ProtocolViolation(f"{event.get('type')!r} without a string {key!r}")
    return value


def _server_error(event: dict[str, Any]) -> SessionFailed:
    return ServerError(str(event.get("code") or "unknown"), str(event.get("message") or ""))


__all__ = ["NativeClient", "encode_native", "native_url", "session_id"]
