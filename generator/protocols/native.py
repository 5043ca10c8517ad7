"""The client side of the mock backend's native call protocol (docs/protocol.md).

`GET /ws/voice/{session_id}`; caller audio goes up as binary frames of 20 ms of PCM16 24 kHz
(960 bytes), the end of speech as `{"type": "end_of_utterance"}`; the backend answers with
`session.ready`, then per response `response.started`, `audio` (base64 PCM16), `transcript`,
`tool_call` notices and `response.done`; `error` and `hangup` frames end the call.

The answer to a turn is the first response that starts after the caller's last voiced frame
(generator/protocols/answers.py): a greeting still streaming when the caller finished is read
through, not counted. Under server VAD (`?vad=server`) the backend's `speech_stopped` gives the
end-of-turn delay; the caller then sends no `end_of_utterance` and keeps its line open with
silence while it listens. A barge-in is over when the backend's `response.done` says
`cancelled`.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from generator.audio import PCM_FRAME_BYTES, PCM_RATE, split_frames
from generator.protocols.answers import OTHER, AnswerWatch, Kind, Note
from generator.protocols.base import (
    ClientSettings,
    Deadline,
    GreetingMode,
    ResponseTiming,
    TurnEnd,
    b64_size,
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
from generator.protocols.listening import ListeningClient

PCM_BYTES_PER_S: Final = PCM_RATE * 2
VOICE_PATH: Final = "/ws/voice"
END_OF_UTTERANCE: Final = json.dumps({"type": "end_of_utterance"})
HANGUP: Final = json.dumps({"type": "hangup"})
SILENCE: Final = bytes(PCM_FRAME_BYTES)  # 20 ms of PCM16 silence


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


class NativeClient(ListeningClient):
    """One call over the native protocol."""

    protocol = "native"

    def __init__(self, settings: ClientSettings, rng: random.Random) -> None:
        url = native_url(settings.url, session_id(rng))
        # `?vad=server`: the backend's upstream hears the turn end in the audio, so the caller
        # sends no end_of_utterance and keeps its line open (silence) while it listens.
        server_vad = "vad=server" in urlsplit(url).query
        super().__init__(settings, url, server_vad=server_vad, silence=SILENCE)

    async def connect(self) -> float:
        return await self._open(self.settings.headers)

    async def wait_greeting(self, mode: GreetingMode) -> ResponseTiming | None:
        if mode == "none":
            return None
        deadline = Deadline(self._clock, self.settings.greeting_timeout_s, GreetingTimeout)
        return await self._hear_greeting(mode, deadline)

    async def end_utterance(self) -> TurnEnd:
        if not self.server_vad:
            await send(self.ws, END_OF_UTTERANCE)
        return TurnEnd(self._voiced_at, self._clock())

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

    def classify(self, message: str | bytes) -> Note:
        if isinstance(message, bytes):
            return Note(Kind.AUDIO, len(message) / PCM_BYTES_PER_S)
        event = parse_event(message)
        kind = event.get("type")
        rid = event.get("response_id")
        rid = None if rid is None else str(rid)
        if kind == "audio":
            seconds = b64_size(_str(event, "audio")) / PCM_BYTES_PER_S
            return Note(Kind.AUDIO, seconds, response_id=rid)
        if kind == "response.started":
            return Note(Kind.STARTED, response_id=rid)
        if kind == "response.done":
            status = str(event.get("status") or "completed")
            if status == "failed":
                raise ServerError("response_failed", "the backend's response failed")
            return Note(Kind.DONE, status=status, response_id=rid)
        if kind == "tool_call":
            return Note(Kind.TOOL)
        if kind == "speech_stopped":
            return Note(Kind.SPEECH_STOPPED)
        if kind == "error":
            raise _server_error(event)
        if kind == "hangup":
            raise SessionClosed(1000, f"the backend hung up: {event.get('reason', '')}")
        return OTHER

    async def after_done(self, note: Note, watch: AnswerWatch) -> bool:
        # A response that only ran a tool has no audio; the spoken answer follows it.
        return True


def _str(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str):
        raise ProtocolViolation(f"{event.get('type')!r} without a string {key!r}")
    return value


def _server_error(event: dict[str, Any]) -> SessionFailed:
    return ServerError(str(event.get("code") or "unknown"), str(event.get("message") or ""))


__all__ = ["NativeClient", "encode_native", "native_url", "session_id"]
