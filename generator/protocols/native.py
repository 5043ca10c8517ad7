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

import asyncio
import json
import math
import random
import uuid
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection

from generator.audio import PCM_FRAME_BYTES, PCM_RATE, split_frames
from generator.protocols.answers import (
    OTHER,
    AnswerWatch,
    Kind,
    Note,
    SilenceLine,
    read_answer,
    read_barge_in,
)
from generator.protocols.base import (
    BargeIn,
    ClientSettings,
    Deadline,
    GreetingMode,
    LagSink,
    ResponseTiming,
    TurnEnd,
    Utterance,
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


class NativeClient:
    """One call over the native protocol."""

    protocol = "native"

    def __init__(self, settings: ClientSettings, rng: random.Random) -> None:
        self.settings = settings
        self.url = native_url(settings.url, session_id(rng))
        self._clock = settings.clock
        self._ws: ClientConnection | None = None
        self._voiced_at = 0.0
        # `?vad=server`: the backend's upstream hears the turn end in the audio, so the caller
        # sends no end_of_utterance and keeps its line open (silence) while it listens.
        self.server_vad = "vad=server" in urlsplit(self.url).query
        self._line: SilenceLine | None = None

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
        if self.server_vad:
            self._line = SilenceLine(self._ws, SILENCE, self._clock)
        return self._clock()

    async def wait_greeting(self, mode: GreetingMode) -> ResponseTiming | None:
        if mode == "none":
            return None
        watch = AnswerWatch(-math.inf)
        deadline = Deadline(self._clock, self.settings.greeting_timeout_s, GreetingTimeout)
        try:
            return await read_answer(self, -math.inf, deadline, watch)
        except GreetingTimeout:
            if mode == "auto" and not (watch.open or watch.tracker.has_audio):
                return None
            raise

    async def send_utterance(self, utterance: Utterance, on_lag: LagSink) -> None:
        await self._send_utterance(utterance, on_lag, None)

    async def _send_utterance(
        self, utterance: Utterance, on_lag: LagSink, voiced: asyncio.Future[float] | None
    ) -> None:
        ws, clock = self.ws, self._clock
        first, last = utterance.first_voiced, utterance.last_voiced

        async def send_frame(k: int, frame: str | bytes, _due: float) -> None:
            await send(ws, frame)
            if k == last:
                self._voiced_at = clock()
            if k == first and voiced is not None and not voiced.done():
                voiced.set_result(clock())

        await send_paced(utterance.frames, send_frame, clock=clock, on_lag=on_lag)

    async def end_utterance(self) -> TurnEnd:
        if not self.server_vad:
            await send(self.ws, END_OF_UTTERANCE)
        return TurnEnd(self._voiced_at, self._clock())

    async def wait_response(self) -> ResponseTiming:
        deadline = Deadline(self._clock, self.settings.response_timeout_s, ResponseTimeout)
        line = self._line
        if line is None:
            return await read_answer(self, self._voiced_at, deadline)
        line.start()
        try:
            return await read_answer(self, self._voiced_at, deadline)
        finally:
            await line.stop()

    async def barge_in(
        self, utterance: Utterance, after_s: float, bound_s: float, on_lag: LagSink
    ) -> BargeIn:
        sender: asyncio.Task[None] | None = None
        line = self._line

        async def speak(voiced: asyncio.Future[float]) -> None:
            try:
                if line is not None:
                    await line.stop()
                await self._send_utterance(utterance, on_lag, voiced)
            except Exception as exc:  # the watch waits on the first voiced frame: tell it
                if not voiced.done():
                    voiced.set_exception(exc)
                raise

        def start() -> asyncio.Future[float]:
            nonlocal sender
            voiced: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            sender = asyncio.create_task(speak(voiced))
            return voiced

        if line is not None:
            line.start()
        try:
            barge, _watch = await read_barge_in(self, self._voiced_at, start, after_s, bound_s)
            if sender is not None:
                await sender
        finally:
            if sender is not None:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
            if line is not None:
                await line.stop()
        return barge

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
