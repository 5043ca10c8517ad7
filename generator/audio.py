"""The caller's audio: where it comes from, and the encodings the call protocols put on the wire.

Sources: a deterministic speech-like signal (`synth_speech`: voiced syllables with a gliding
pitch, harmonics and a rise-and-fall envelope, separated by short pauses; every choice from a
seeded `random.Random`, so the same seed gives the same bytes), or a WAV file (`load_wav`: 8- or
16-bit, mono or stereo, any rate, converted to the canonical format).

The canonical format is PCM16 little-endian mono at 24 kHz (what the native protocol and the
Realtime API speak). Twilio speaks G.711 mu-law at 8 kHz; the encoder and decoder are here
(`audioop` is deprecated) and run from lookup tables. Everything is cut into 20 ms frames once,
before a call, so that sending a frame costs no encoding.
"""

from __future__ import annotations

import math
import random
import sys
import wave
from array import array
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Final

from generator.errors import InvalidInput

PCM_RATE: Final = 24_000
MULAW_RATE: Final = 8_000
FRAME_MS: Final = 20
PCM_FRAME_BYTES: Final = PCM_RATE * FRAME_MS // 1000 * 2  # 960
MULAW_FRAME_BYTES: Final = MULAW_RATE * FRAME_MS // 1000  # 160
MULAW_SILENCE: Final = 0xFF
# A frame at or above this RMS level (-40 dBFS) counts as voiced; synthetic speech's syllables
# stay far above it to their last frame, line silence and its noise far below.
VOICED_RMS: Final = 328

_BIAS: Final = 0x84
_CLIP: Final = 32635
_BIG_ENDIAN: Final = sys.byteorder == "big"


def _samples(pcm: bytes) -> array[int]:
    out = array("h")
    out.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if _BIG_ENDIAN:
        out.byteswap()
    return out


def _pcm(samples: Sequence[int]) -> bytes:
    out = array("h", samples)
    if _BIG_ENDIAN:
        out.byteswap()
    return out.tobytes()


def synth_speech(duration_ms: int, seed: int, rate: int = PCM_RATE) -> bytes:
    """``duration_ms`` of speech-like PCM16 at ``rate``: the same seed gives the same bytes."""
    rng = random.Random(seed)
    total = rate * duration_ms // 1000
    out: list[int] = []
    base_f0 = rng.uniform(95.0, 210.0)  # one speaker per seed
    while len(out) < total:
        n = min(int(rate * rng.uniform(0.12, 0.28)), total - len(out))
        out.extend(_syllable(rng, n, rate, base_f0))
        if len(out) < total and rng.random() < 0.35:
            pause = min(int(rate * rng.uniform(0.03, 0.12)), total - len(out))
            out.extend(0 for _ in range(pause))
    return _pcm(out)


def _syllable(rng: random.Random, n: int, rate: int, base_f0: float) -> list[int]:
    f_start = base_f0 * rng.uniform(0.85, 1.2)
    f_end = f_start * rng.uniform(0.8, 1.2)
    harmonics = [(h, rng.uniform(0.5, 1.0) / h) for h in range(1, 7)]
    norm = sum(a for _, a in harmonics)
    peak = 32767 * rng.uniform(0.2, 0.45) / norm
    noise = 0.04 * norm
    two_pi_over_rate = 2.0 * math.pi / rate
    phase = rng.uniform(0.0, 2.0 * math.pi)
    samples: list[int] = []
    for i in range(n):
        x = i / n
        phase += (f_start + (f_end - f_start) * x) * two_pi_over_rate
        voiced = sum(a * math.sin(h * phase) for h, a in harmonics)
        envelope = math.sin(math.pi * x) ** 0.6
        value = peak * envelope * (voiced + noise * (rng.random() * 2.0 - 1.0))
        samples.append(max(-32768, min(32767, round(value))))
    return samples


def load_wav(path: str | Path) -> bytes:
    """A WAV file as canonical PCM16 mono 24 kHz; InvalidInput if it cannot be used."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise InvalidInput("audio file", [f"{path}: {exc}"]) from None
    problems = []
    if width not in (1, 2):
        problems.append(f"{path}: {8 * width}-bit samples (8- or 16-bit PCM only)")
    if channels not in (1, 2):
        problems.append(f"{path}: {channels} channels (mono or stereo only)")
    if not raw:
        problems.append(f"{path}: no audio frames")
    if problems:
        raise InvalidInput("audio file", problems)
    samples = _samples(raw) if width == 2 else array("h", ((b - 128) << 8 for b in raw))
    if channels == 2:
        samples = array(
            "h", ((a + b) // 2 for a, b in zip(samples[::2], samples[1::2], strict=False))
        )
    return _pcm(resample(samples, rate, PCM_RATE))


def resample(samples: Sequence[int], src_rate: int, dst_rate: int) -> list[int]:
    """Linear-interpolation resampling; going down, a moving average first keeps the worst of
    the aliasing out (good enough for load, not for listening)."""
    if src_rate == dst_rate or not samples:
        return list(samples)
    src: Sequence[float] | Sequence[int] = samples
    if dst_rate < src_rate:
        width = max(1, round(src_rate / dst_rate))
        src = _moving_average(samples, width)
    n_out = max(1, len(samples) * dst_rate // src_rate)
    step = src_rate / dst_rate
    last = len(src) - 1
    out: list[int] = []
    for i in range(n_out):
        pos = i * step
        j = int(pos)
        frac = pos - j
        a = src[min(j, last)]
        b = src[min(j + 1, last)]
        out.append(max(-32768, min(32767, round(a + (b - a) * frac))))
    return out


def _moving_average(samples: Sequence[int], width: int) -> list[float]:
    out: list[float] = []
    acc = 0
    for i, s in enumerate(samples):
        acc += s
        if i >= width:
            acc -= samples[i - width]
        out.append(acc / min(i + 1, width))
    return out


def _mulaw_encode_one(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sign else sample, _CLIP) + _BIAS
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _mulaw_decode_one(byte: int) -> int:
    u = ~byte & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = ((((u & 0x0F) << 3) + _BIAS) << exponent) - _BIAS
    return -magnitude if u & 0x80 else magnitude


@cache
def _encode_table() -> bytes:
    # Indexed by the sample's unsigned 16-bit pattern, so a whole buffer encodes with one map.
    return bytes(_mulaw_encode_one(u - 65536 if u >= 32768 else u) for u in range(65536))


@cache
def _decode_table() -> tuple[int, ...]:
    return tuple(_mulaw_decode_one(b) for b in range(256))


def mulaw_encode(pcm: bytes) -> bytes:
    """PCM16 little-endian bytes to G.711 mu-law, one byte per sample."""
    unsigned = array("H")
    unsigned.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if _BIG_ENDIAN:
        unsigned.byteswap()
    return bytes(map(_encode_table().__getitem__, unsigned))


def mulaw_decode(data: bytes) -> bytes:
    """G.711 mu-law to PCM16 little-endian bytes."""
    return _pcm(list(map(_decode_table().__getitem__, data)))


def line_noise_mulaw(rng: random.Random, n_bytes: int, amplitude: int = 16) -> bytes:
    """``n_bytes`` of mu-law line noise: uniform samples within ±``amplitude`` (16 is about
    -66 dBFS, the hiss of a quiet phone line), every one drawn from ``rng``."""
    return mulaw_encode(_pcm([rng.randint(-amplitude, amplitude) for _ in range(n_bytes)]))


def pcm24k_to_mulaw8k(pcm: bytes) -> bytes:
    """Canonical audio to what a Twilio Media Stream carries."""
    return mulaw_encode(_pcm(resample(_samples(pcm), PCM_RATE, MULAW_RATE)))


def split_frames(data: bytes, frame_bytes: int, pad: int = 0) -> list[bytes]:
    """Cut ``data`` into frames of exactly ``frame_bytes``, the last one padded with ``pad``."""
    frames = [data[i : i + frame_bytes] for i in range(0, len(data), frame_bytes)]
    if frames and len(frames[-1]) < frame_bytes:
        frames[-1] = frames[-1] + bytes([pad]) * (frame_bytes - len(frames[-1]))
    return frames


def utterance_pcm(utterance_ms: int, seed: int, audio_file: str | None = None) -> bytes:
    """One utterance of canonical audio: the WAV file when given, else synthetic speech."""
    return load_wav(audio_file) if audio_file else synth_speech(utterance_ms, seed)


def voiced_frames(pcm: bytes, frame_bytes: int = PCM_FRAME_BYTES) -> list[bool]:
    """Per 20 ms frame of canonical audio, whether it holds voice: an RMS level at or above
    `VOICED_RMS` (-40 dBFS). The caller's turn ends, for voice-to-voice latency, with its last
    voiced frame; trailing silence is the listener's end-of-turn wait, not speech."""
    flags = []
    for start in range(0, len(pcm), frame_bytes):
        samples = _samples(pcm[start : start + frame_bytes])
        energy = sum(s * s for s in samples) / max(1, len(samples))
        flags.append(energy >= VOICED_RMS * VOICED_RMS)
    return flags


def pcm_duration_ms(pcm_bytes: int, rate: int = PCM_RATE) -> float:
    """How long ``pcm_bytes`` of PCM16 mono audio plays, in ms."""
    return pcm_bytes / 2 / rate * 1000.0


__all__ = [
    "FRAME_MS",
    "MULAW_FRAME_BYTES",
    "MULAW_RATE",
    "MULAW_SILENCE",
    "PCM_FRAME_BYTES",
    "PCM_RATE",
    "VOICED_RMS",
    "line_noise_mulaw",
    "load_wav",
    "mulaw_decode",
    "mulaw_encode",
    "pcm24k_to_mulaw8k",
    "pcm_duration_ms",
    "resample",
    "split_frames",
    "synth_speech",
    "utterance_pcm",
    "voiced_frames",
]
