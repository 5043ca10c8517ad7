"""What a Twilio caller puts on the wire besides its event loop: the caller's audio as media
payloads (160 bytes of mu-law, base64, built once per workload), the line's silence and seeded
noise, the stream URL, and Twilio-shaped SIDs (generator/protocols/twilio.py sends them)."""

from __future__ import annotations

import base64
import random
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from generator.audio import MULAW_FRAME_BYTES, MULAW_SILENCE, line_noise_mulaw, pcm24k_to_mulaw8k
from generator.audio import split_frames as _split

MEDIA_PATH: Final = "/media-stream"
SILENCE_PAYLOAD: Final = base64.b64encode(bytes([MULAW_SILENCE]) * MULAW_FRAME_BYTES).decode()
NOISE_FRAMES: Final = 50  # one second of distinct noise, cycled


def encode_twilio(pcm: bytes) -> list[str]:
    """Canonical audio as the base64 payloads of Twilio media frames (160 bytes of mu-law)."""
    frames = _split(pcm24k_to_mulaw8k(pcm), MULAW_FRAME_BYTES, MULAW_SILENCE)
    return [base64.b64encode(frame).decode("ascii") for frame in frames]


def line_noise(rng: random.Random) -> list[str]:
    """A second of seeded low-level line noise as media payloads."""
    noise = line_noise_mulaw(rng, MULAW_FRAME_BYTES * NOISE_FRAMES)
    return [base64.b64encode(f).decode() for f in _split(noise, MULAW_FRAME_BYTES)]


def twilio_url(url: str) -> str:
    """`/media-stream` appended to a bare backend URL; any other path is kept."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path=MEDIA_PATH))
    return url


def sid(prefix: str, rng: random.Random) -> str:
    """A seeded SID as Twilio shapes them: a two-letter prefix and 32 hex digits."""
    return prefix + f"{rng.getrandbits(128):032x}"


__all__ = ["MEDIA_PATH", "SILENCE_PAYLOAD", "encode_twilio", "line_noise", "sid", "twilio_url"]
