"""The client side of a Twilio Media Stream: the generator plays Twilio calling the backend's
`/media-stream` endpoint (docs/protocol.md).

Up: `connected`, `start` (streamSid, callSid, accountSid, tracks, mediaFormat audio/x-mulaw 8 kHz
mono), `media` frames of 160 bytes of mu-law every 20 ms (sequenceNumber, chunk, timestamp in ms
since the stream started), a `mark` named `end_of_utterance` when the caller stops speaking, and
`stop` at the hang-up. Down: `media` (the assistant's mu-law audio) and `mark` events, a mark
closing each response; the client echoes every mark back, as Twilio does once the audio before
it has played. `clear` is read and ignored.

Media messages are the hot path: each is a string template filled with precomputed base64, never
a `json.dumps` of a dict, written as a WebSocket frame straight to the transport by the loop's
shared pacer (generator/protocols/pacing.py) whenever websockets' own send path is not needed.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection

from generator.audio import MULAW_FRAME_BYTES, MULAW_RATE, MULAW_SILENCE, pcm24k_to_mulaw8k
from generator.audio import split_frames as _split
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
)
from generator.protocols.pacing import play_paced, ready, write_text

MEDIA_PATH: Final = "/media-stream"
END_OF_UTTERANCE_MARK: Final = "end_of_utterance"


def encode_twilio(pcm: bytes) -> list[str]:
    """Canonical audio as the base64 payloads of Twilio media frames (160 bytes of mu-law)."""
    frames = _split(pcm24k_to_mulaw8k(pcm), MULAW_FRAME_BYTES, MULAW_SILENCE)
    return [base64.b64encode(frame).decode("ascii") for frame in frames]


def twilio_url(url: str) -> str:
    """`/media-stream` appended to a bare backend URL; any other path is kept."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path=MEDIA_PATH))
    return url


def _sid(prefix: str, rng: random.Random) -> str:
    return prefix + f"{rng.getrandbits(128):032x}"


class TwilioClient:
    """One call as a Twilio Media Stream."""

    protocol = "twilio"

    def __init__(self, settings: ClientSettings, rng: random.Random) -> None:
        self.settings = settings
        self.url = twilio_url(settings.url)
        self._clock = settings.clock
        self.account_sid = _sid("AC", rng)
        self.call_sid = _sid("CA", rng)
        self.stream_sid = _sid("MZ", rng)
        self._ws: ClientConnection | None = None
        self._sequence = 0
        self._chunk = 0
        self._started_at = 0.0
        # sequenceNumber, chunk, timestamp, payload: filled per frame.
        self._media = (
            '{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d",'
            '"timestamp":"%d","payload":"%s"},"streamSid":"' + self.stream_sid + '"}'
        )

    @property
    def ws(self) -> ClientConnection:
        if self._ws is None:
            raise ProtocolViolation("not connected")
        return self._ws

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def _event(self, event: str, **fields: Any) -> str:
        return json.dumps(
            {
                "event": event,
                "sequenceNumber": str(self._next_sequence()),
                **fields,
                "streamSid": self.stream_sid,
            }
        )

    async def connect(self) -> float:
        self._ws = await open_ws(
            self.url,
            self.settings.connect_timeout_s,
            self.settings.headers,
            clock=self._clock,
            ssl_context=self.settings.ssl,
        )
        connected_at = self._clock()
        self._started_at = connected_at
        await send(
            self._ws, json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        )
        start = {
            "streamSid": self.stream_sid,
            "accountSid": self.account_sid,
            "callSid": self.call_sid,
            "tracks": ["inbound"],
            "customParameters": {},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": MULAW_RATE, "channels": 1},
        }
        await send(self._ws, self._event("start", start=start))
        return connected_at

    async def wait_greeting(self) -> ResponseTiming:
        return await self._read_response(
            Deadline(self._clock, self.settings.greeting_timeout_s, GreetingTimeout)
        )

    async def send_utterance(self, frames: Frames, on_lag: LagSink) -> None:
        ws, media, started = self.ws, self._media, self._started_at

        def message(payload: str | bytes, due: float) -> str:
            # Counted only for a frame that goes out: a declined write_now is sent again.
            self._sequence += 1
            self._chunk += 1
            return media % (self._sequence, self._chunk, round((due - started) * 1000), payload)

        def write_now(_k: int, payload: str | bytes, due: float) -> bool:
            if not ready(ws):
                return False
            write_text(ws, message(payload, due).encode())
            return True

        async def send_frame(_k: int, payload: str | bytes, due: float) -> None:
            await send(ws, message(payload, due))

        await play_paced(frames, write_now, send_frame, clock=self._clock, on_lag=on_lag)

    async def end_utterance(self) -> float:
        await send(self.ws, self._event("mark", mark={"name": END_OF_UTTERANCE_MARK}))
        return self._clock()

    async def wait_response(self) -> ResponseTiming:
        return await self._read_response(
            Deadline(self._clock, self.settings.response_timeout_s, ResponseTimeout)
        )

    async def hangup(self) -> None:
        stop = {"accountSid": self.account_sid, "callSid": self.call_sid}
        await send(self.ws, self._event("stop", stop=stop))
        await self.close()

    async def close(self) -> None:
        await close_quietly(self._ws)

    async def _read_response(self, deadline: Deadline) -> ResponseTiming:
        """Read media until the mark that closes the response."""
        ws = self.ws
        tracker = ResponseTracker()
        while True:
            message, now = await receive(ws, deadline)
            if isinstance(message, bytes):
                raise ProtocolViolation("a binary frame on a Twilio media stream")
            event = parse_event(message)
            kind = event.get("event")
            if kind == "media":
                media = event.get("media")
                payload = media.get("payload") if isinstance(media, dict) else None
                if not isinstance(payload, str):
                    raise ProtocolViolation("a media event without a payload")
                tracker.audio(now, b64_size(payload) / MULAW_RATE)
                deadline.extend()
            elif kind == "mark":
                mark = event.get("mark")
                name = mark.get("name") if isinstance(mark, dict) else None
                await send(ws, self._event("mark", mark={"name": str(name)}))
                if tracker.has_audio:
                    return tracker.finish(now)
            elif kind == "error":  # not Twilio's, but a backend may say why it gives up
                raise ServerError(str(event.get("code") or "unknown"), str(event.get("message")))


__all__ = ["END_OF_UTTERANCE_MARK", "TwilioClient", "encode_twilio", "twilio_url"]
