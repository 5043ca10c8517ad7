"""The pure-Python mu-law codec and 8k <-> 24k resampling."""

from __future__ import annotations

import math
import struct

from mocks.backend.codec import (
    downsample_3x,
    mulaw8k_to_pcm24k,
    mulaw_decode,
    mulaw_encode,
    pcm24k_to_mulaw8k,
    upsample_3x,
)


def _pcm(samples: list[int]) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def _samples(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


def test_known_mulaw_values() -> None:
    # G.711: silence is 0xFF, full-scale positive 0x80, full-scale negative 0x00.
    assert mulaw_encode(_pcm([0, 32767, -32768])) == bytes([0xFF, 0x80, 0x00])
    assert _samples(mulaw_decode(bytes([0xFF, 0x7F]))) == [0, 0]
    assert _samples(mulaw_decode(bytes([0x80, 0x00]))) == [32124, -32124]


def test_round_trip_error_is_within_a_quantisation_step() -> None:
    original = [int(20000 * math.sin(i / 7)) for i in range(400)]
    decoded = _samples(mulaw_decode(mulaw_encode(_pcm(original))))
    for a, b in zip(original, decoded, strict=True):
        assert abs(a - b) <= max(16, abs(a) // 16)


def test_resampling_lengths_and_shape() -> None:
    ramp = _pcm([0, 300, 600, 900])
    up = _samples(upsample_3x(ramp))
    assert up[:7] == [0, 100, 200, 300, 400, 500, 600]
    assert _samples(downsample_3x(_pcm(up))) == [100, 400, 700, 900]
    assert len(pcm24k_to_mulaw8k(b"\x00" * 960)) == 160
    assert len(mulaw8k_to_pcm24k(b"\xff" * 160)) == 960
