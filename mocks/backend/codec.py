"""Small audio helpers in pure Python (``audioop`` is deprecated and warnings are errors here):
G.711 mu-law to and from PCM16 (little-endian), and 8 kHz <-> 24 kHz resampling (linear
interpolation up, a 3-tap average down). Twilio speaks 8 kHz mu-law; the native protocol 24 kHz
PCM16."""

from __future__ import annotations

import array
import sys

_BIAS = 0x84
_CLIP = 32635


def _decode_byte(byte: int) -> int:
    byte = ~byte & 0xFF
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    sample = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -sample if sign else sample


def _encode_sample(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, _CLIP) + _BIAS
    exponent, mask = 7, 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


_DECODE = array.array("h", (_decode_byte(b) for b in range(256)))
# Indexed by the sample's 16-bit pattern (negative samples wrap), one byte per possible sample.
_ENCODE = bytes(_encode_sample(s - 65536 if s >= 32768 else s) for s in range(65536))


def _to_samples(pcm: bytes) -> array.array[int]:
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _to_bytes(samples: array.array[int]) -> bytes:
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def mulaw_decode(data: bytes) -> bytes:
    """mu-law bytes to PCM16 little-endian (same sample rate)."""
    return _to_bytes(array.array("h", (_DECODE[b] for b in data)))


def mulaw_encode(pcm: bytes) -> bytes:
    """PCM16 little-endian to mu-law bytes (same sample rate)."""
    return bytes(_ENCODE[s & 0xFFFF] for s in _to_samples(pcm))


def upsample_3x(pcm: bytes) -> bytes:
    """8 kHz to 24 kHz PCM16: two interpolated samples after each original one."""
    s = _to_samples(pcm)
    out = array.array("h")
    for i, cur in enumerate(s):
        nxt = s[i + 1] if i + 1 < len(s) else cur
        step = nxt - cur
        out.extend((cur, cur + step // 3, cur + (2 * step) // 3))
    return _to_bytes(out)


def downsample_3x(pcm: bytes) -> bytes:
    """24 kHz to 8 kHz PCM16: each output sample is the mean of three inputs (a crude low-pass)."""
    s = _to_samples(pcm)
    n = len(s) - len(s) % 3
    return _to_bytes(array.array("h", ((s[i] + s[i + 1] + s[i + 2]) // 3 for i in range(0, n, 3))))


def mulaw8k_to_pcm24k(data: bytes) -> bytes:
    return upsample_3x(mulaw_decode(data))


def pcm24k_to_mulaw8k(pcm: bytes) -> bytes:
    return mulaw_encode(downsample_3x(pcm))
