"""A caller that behaves as Twilio Media Streams does, for the mock backend's tests: after
``connected`` and ``start``, one ``media`` frame every 20 ms for the whole call (the caller's
speech, then line silence; never a gap and never a mark of its own), the backend's audio played
at 8 kHz real time, each of its marks echoed when playback reaches it, ``clear`` emptying the
buffer and echoing the pending marks at once, ``stop`` at the hang-up.

A turn: speak ``speech_ms``, then wait for the answer — assistant audio that starts after the last
voiced frame — and for its end (playback drained and no new audio for ``quiet_s``). With
``barge_in_after_ms`` the caller speaks again that long into the first answer's playback.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from mocks.realtime.speech import AudioFormat, speech

FRAME_S = 0.02
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
SILENCE = b"\xff" * FRAME_BYTES  # mu-law zero
SID = "MZ00000000000000000000000000000001"
CALL_SID = "CA0001"


@dataclass
class LineResult:
    turn_latencies_ms: list[float] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)  # seconds after the barge-in began
    audio_after_barge_in_ms: float = 0.0  # assistant audio arriving 0.1-0.7 s after it
    media_bytes: int = 0
    answers: int = 0
    close_code: int | None = None


class TwilioLine:
    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        *,
        speech_ms: int = 400,
        quiet_s: float = 0.7,
        barge_in_after_ms: int | None = None,
        custom: dict[str, str] | None = None,
        stray_mark: bool = False,
    ) -> None:
        self.ws, self.speech_ms, self.quiet_s = ws, speech_ms, quiet_s
        self.barge_in_after_ms, self.custom = barge_in_after_ms, custom or {}
        # Not Twilio's behaviour: an end_of_utterance mark after each utterance, to show that a
        # backend under server VAD does not take it for the end of the turn.
        self.stray_mark = stray_mark
        self.result = LineResult()
        self._voice = speech(AudioFormat.PCMU, 20_000, 1)
        self._to_say = b""  # speech frames still to send
        self._said = 0
        self._sequence = 1
        self._frames = 0
        self._play_end = 0.0  # when the audio queued so far has played
        self._last_audio = 0.0
        self._echoes: dict[str, asyncio.TimerHandle] = {}
        self._last_voiced: float | None = None
        self._answered = asyncio.Event()
        self._barge_in_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _send(self, event: str, **fields: Any) -> None:
        if not self.ws.closed:
            await self.ws.send_str(json.dumps({"event": event, "streamSid": SID, **fields}))

    async def _stream(self) -> None:
        """One frame every 20 ms on a fixed schedule (no drift), speech or silence."""
        start = time.monotonic()
        while not self.ws.closed:
            if self._to_say:
                frame, self._to_say = self._to_say[:FRAME_BYTES], self._to_say[FRAME_BYTES:]
                if not self._to_say:
                    self._last_voiced = time.monotonic()
                    if self.stray_mark:
                        self._spawn(self._send("mark", mark={"name": "end_of_utterance"}))
            else:
                frame = SILENCE
            self._sequence += 1
            media = {
                "track": "inbound",
                "chunk": str(self._frames + 1),
                "timestamp": str(self._frames * 20),
                "payload": base64.b64encode(frame).decode(),
            }
            await self._send("media", sequenceNumber=str(self._sequence), media=media)
            self._frames += 1
            await asyncio.sleep(max(0.0, start + self._frames * FRAME_S - time.monotonic()))

    def _say(self, ms: int) -> None:
        n = ms * 8
        self._to_say = self._voice[self._said : self._said + n]
        self._said += n
        self._last_voiced = None
        self._answered.clear()

    def _echo(self, name: str) -> None:
        self._echoes.pop(name, None)
        self._spawn(self._send("mark", mark={"name": name}))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            kind, now = event.get("event"), time.monotonic()
            if kind == "media":
                audio = base64.b64decode(event["media"]["payload"])
                self.result.media_bytes += len(audio)
                if self._barge_in_at is not None and 0.1 <= now - self._barge_in_at <= 0.7:
                    self.result.audio_after_barge_in_ms += len(audio) / 8
                self._last_audio = now
                if self._last_voiced is not None and not self._answered.is_set():
                    self.result.turn_latencies_ms.append((now - self._last_voiced) * 1000)
                    self._answered.set()
                self._play_end = max(now, self._play_end) + len(audio) / 8000
            elif kind == "mark":
                name = event["mark"].get("name")
                self.result.marks.append(name)
                self._echoes[name] = loop.call_at(max(now, self._play_end), self._echo, name)
            elif kind == "clear":
                if self._barge_in_at is not None:
                    self.result.clears.append(now - self._barge_in_at)
                self._play_end = now
                for name, handle in list(self._echoes.items()):
                    handle.cancel()
                    self._echo(name)
            elif kind == "error":
                self.result.errors.append(str(event.get("code")))
        self.result.close_code = self.ws.close_code

    def _quiet(self) -> bool:
        now = time.monotonic()
        return now >= self._play_end and now - self._last_audio >= self.quiet_s

    async def _until(self, ready: Any, limit: float) -> bool:
        """Poll ``ready()`` every 20 ms for at most ``limit`` seconds (or until the call ends)."""
        for _ in range(int(limit / 0.02) + 1):
            if ready():
                return True
            if self.ws.closed:
                return False
            await asyncio.sleep(0.02)
        return False

    async def call(self, turns: int, limit: float = 20.0) -> LineResult:
        await self.ws.send_str(json.dumps({"event": "connected", "protocol": "Call"}))
        start = {
            "streamSid": SID,
            "accountSid": "AC0001",
            "callSid": CALL_SID,
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": self.custom,
        }
        await self._send("start", sequenceNumber="1", start=start)
        streamer = asyncio.ensure_future(self._stream())
        listener = asyncio.ensure_future(self._listen())
        try:
            # The greeting: heard out (played and quiet) before the first turn.
            await self._until(lambda: self._last_audio and self._quiet(), limit)
            for _ in range(turns):
                self._say(self.speech_ms)
                if self.barge_in_after_ms is not None:
                    await self._barge_in(limit)
                    break
                if not await self._until(lambda: self._answered.is_set() and self._quiet(), limit):
                    self.result.errors.append("no_answer")
                    break
                self.result.answers += 1
            await self._send("stop", stop={"accountSid": "AC0001", "callSid": CALL_SID})
            await asyncio.wait_for(listener, timeout=limit)
        finally:
            streamer.cancel()
            listener.cancel()
            await asyncio.gather(streamer, listener, *self._tasks, return_exceptions=True)
        return self.result

    async def _barge_in(self, limit: float) -> None:
        """Speak again ``barge_in_after_ms`` into the answer's playback, and listen for a while
        to what the backend does with the assistant's audio."""
        await asyncio.wait_for(self._answered.wait(), timeout=limit)
        assert self.barge_in_after_ms is not None
        await asyncio.sleep(self.barge_in_after_ms / 1000)
        self._barge_in_at = time.monotonic()
        self._say(self.speech_ms)
        await asyncio.sleep(1.0)


async def twilio_line_call(ws_url: str, turns: int = 1, **options: Any) -> LineResult:
    path = options.pop("path", "/media-stream")
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url + path) as ws:
        return await TwilioLine(ws, **options).call(turns)
