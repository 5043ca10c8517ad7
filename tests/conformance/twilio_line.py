"""A minimal caller that behaves as Twilio's Media Streams do, independent of the generator: it
checks that a system under test answers a faithful stream before the generator is judged on it.

After ``connected`` and ``start``, one ``media`` frame every 20 ms for the whole call (the
caller's speech, then mu-law line silence), numbered as Twilio numbers them; no marks of its
own (the backend's marks are echoed, here at once, since nothing is played); ``stop`` at the end.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect

from generator.audio import MULAW_FRAME_BYTES, MULAW_SILENCE, pcm24k_to_mulaw8k, split_frames

STREAM_SID = "MZ00000000000000000000000000000015"
CALL_SID = "CA00000000000000000000000000000015"
ACCOUNT_SID = "AC00000000000000000000000000000015"


@dataclass(frozen=True)
class Answer:
    """What the caller lived: its last voiced frame, then the first assistant audio after it."""

    voice_to_voice_ms: float
    audio_frames: int  # media frames of the answer received before the caller hung up
    marks: int  # the backend's marks seen (and echoed)


def _media(seq: int, chunk: int, payload: bytes) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(seq),
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str((chunk - 1) * 20),
                "payload": base64.b64encode(payload).decode("ascii"),
            },
            "streamSid": STREAM_SID,
        }
    )


async def _start(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    start = {
        "accountSid": ACCOUNT_SID,
        "streamSid": STREAM_SID,
        "callSid": CALL_SID,
        "tracks": ["inbound"],
        "customParameters": {},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    message = {"event": "start", "sequenceNumber": "1", "start": start, "streamSid": STREAM_SID}
    await ws.send(json.dumps(message))


async def speak_and_listen(url: str, speech_pcm24k: bytes, listen_s: float = 3.0) -> Answer:
    """One turn: speak, keep the line open with silence, and time the first audio back."""
    speech = split_frames(pcm24k_to_mulaw8k(speech_pcm24k), MULAW_FRAME_BYTES, MULAW_SILENCE)
    silence = bytes([MULAW_SILENCE]) * MULAW_FRAME_BYTES
    last_voiced: float | None = None
    first_audio: float | None = None
    frames = marks = 0
    async with connect(url, max_size=None) as ws:
        await _start(ws)

        async def listen() -> None:
            nonlocal first_audio, frames, marks
            async for raw in ws:
                message = json.loads(raw)
                if message.get("event") == "media" and last_voiced is not None:
                    frames += 1
                    first_audio = first_audio or time.monotonic()
                elif message.get("event") == "mark":
                    marks += 1
                    echo = {"event": "mark", "streamSid": STREAM_SID, "mark": message["mark"]}
                    await ws.send(json.dumps(echo))

        listener = asyncio.create_task(listen())
        try:
            begin = time.monotonic()
            total = len(speech) + int(listen_s * 50)
            for i in range(total):
                # Paced from the start time, so a late frame never delays the ones after it.
                await asyncio.sleep(max(0.0, begin + i * 0.020 - time.monotonic()))
                await ws.send(_media(i + 2, i + 1, speech[i] if i < len(speech) else silence))
                if i == len(speech) - 1:
                    last_voiced = time.monotonic()
            stop = {"accountSid": ACCOUNT_SID, "callSid": CALL_SID}
            message = {"event": "stop", "sequenceNumber": str(total + 2), "stop": stop}
            await ws.send(json.dumps(message | {"streamSid": STREAM_SID}))
        finally:
            listener.cancel()
    if last_voiced is None or first_audio is None:
        raise AssertionError("no assistant audio after the caller's speech")
    return Answer((first_audio - last_voiced) * 1000.0, frames, marks)
