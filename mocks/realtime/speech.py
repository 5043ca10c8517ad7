"""The upstream's audio: the three Realtime formats (24 kHz PCM16, 8 kHz G.711 µ-law and A-law),
a synthesized speech-like signal to answer with, and the energy measure server VAD listens to.

The signal is harmonics of a slowly varying pitch under a syllable-rate (4 Hz) envelope: enough
like speech for energy-based VAD and for codecs, and deterministic (no randomness at all), so
every response of a given length is the same bytes and is synthesized once.
"""

from __future__ import annotations

import enum
import math
import struct
import sys
from array import array
from functools import lru_cache


class AudioFormat(enum.Enum):
    """A Realtime audio format; ``value`` is its GA name."""

    PCM16 = "audio/pcm"
    PCMU = "audio/pcmu"
    PCMA = "audio/pcma"

    @property
    def rate(self) -> int:
        return 24000 if self is AudioFormat.PCM16 else 8000

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self is AudioFormat.PCM16 else 1

    @property
    def beta_name(self) -> str:
        return BETA_NAMES[self]

    def bytes_for_ms(self, ms: float) -> int:
        return int(self.rate * ms / 1000) * self.bytes_per_sample

    def ms_of(self, n_bytes: int) -> float:
        return n_bytes / self.bytes_per_sample * 1000 / self.rate


BETA_NAMES: dict[AudioFormat, str] = {
    AudioFormat.PCM16: "pcm16",
    AudioFormat.PCMU: "g711_ulaw",
    AudioFormat.PCMA: "g711_alaw",
}
FROM_BETA: dict[str, AudioFormat] = {name: fmt for fmt, name in BETA_NAMES.items()}


def ulaw_encode(sample: int) -> int:
    """One 16-bit linear sample to G.711 µ-law (ITU-T G.711, with the usual bias of 0x84)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_decode(byte: int) -> int:
    byte = ~byte & 0xFF
    magnitude = ((((byte & 0x0F) << 3) + 0x84) << ((byte >> 4) & 0x07)) - 0x84
    return -magnitude if byte & 0x80 else magnitude


def alaw_encode(sample: int) -> int:
    """One 16-bit linear sample to G.711 A-law."""
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(-sample if sample < 0 else sample, 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def alaw_decode(byte: int) -> int:
    byte ^= 0x55
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    magnitude = (
        (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    )
    return magnitude if byte & 0x80 else -magnitude


# Squares of the decoded G.711 values, so the energy of a G.711 buffer is a C-speed table lookup.
_ULAW_SQUARES = [ulaw_decode(b) ** 2 for b in range(256)]
_ALAW_SQUARES = [alaw_decode(b) ** 2 for b in range(256)]
_STRIDE = 4  # energy from every 4th sample: plenty for VAD, a quarter of the work under load


def rms(data: bytes, fmt: AudioFormat) -> float:
    """The root-mean-square level of ``data`` as a fraction of full scale (0..1)."""
    if fmt is AudioFormat.PCM16:
        samples = array("h")
        samples.frombytes(data[: len(data) // 2 * 2])
        if sys.byteorder == "big":
            samples.byteswap()
        picked = samples[::_STRIDE]
        total = sum(map(int.__mul__, picked, picked))
        count = len(picked)
    else:
        squares = _ULAW_SQUARES if fmt is AudioFormat.PCMU else _ALAW_SQUARES
        picked_bytes = data[::_STRIDE]
        total = sum(map(squares.__getitem__, picked_bytes))
        count = len(picked_bytes)
    return math.sqrt(total / count) / 32768.0 if count else 0.0


@lru_cache(maxsize=32)
def speech(fmt: AudioFormat, duration_ms: int, voice: int = 0) -> bytes:
    """``duration_ms`` of speech-like audio in ``fmt``; ``voice`` shifts the pitch so a greeting
    and an answer sound different."""
    rate = fmt.rate
    n = rate * duration_ms // 1000
    base = 140.0 + 30.0 * voice
    phase = 0.0
    linear = array("h", bytes(2 * n))
    for i in range(n):
        t = i / rate
        pitch = base * (1.0 + 0.15 * math.sin(2 * math.pi * 0.7 * t))
        phase += 2 * math.pi * pitch / rate
        envelope = 0.55 - 0.45 * math.cos(2 * math.pi * 4.0 * t)
        value = math.sin(phase) + 0.5 * math.sin(2 * phase) + 0.25 * math.sin(3 * phase)
        linear[i] = int(7000 * envelope * value)
    if fmt is AudioFormat.PCMU:
        return bytes(ulaw_encode(s) for s in linear)
    if fmt is AudioFormat.PCMA:
        return bytes(alaw_encode(s) for s in linear)
    return struct.pack(f"<{n}h", *linear)
