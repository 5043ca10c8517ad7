"""generator/audio.py: the synthetic source is deterministic and speech-like, mu-law round-trips
within G.711's quantisation error, WAV files load at any supported format, frames have the sizes
the protocols expect."""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

import pytest

from generator import audio
from generator.errors import InvalidInput


def _samples(pcm: bytes) -> array[int]:
    out = array("h")
    out.frombytes(pcm)
    return out


def _rms(samples: array[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def test_synth_is_deterministic_by_seed() -> None:
    a = audio.synth_speech(400, seed=7)
    assert a == audio.synth_speech(400, seed=7)
    assert a != audio.synth_speech(400, seed=8)
    assert len(a) == 24_000 * 400 // 1000 * 2


def test_synth_sounds_like_speech_not_silence_or_a_tone() -> None:
    samples = _samples(audio.synth_speech(1500, seed=3))
    assert 500 < _rms(samples) < 20_000
    # Syllables rise and fall: 20 ms windows differ in energy by a wide margin.
    window = 480
    energies = [_rms(samples[i : i + window]) for i in range(0, len(samples) - window, window)]
    assert max(energies) > 5 * (min(energies) + 1)
    assert max(abs(s) for s in samples) <= 32767


def test_mulaw_round_trip_error_within_g711_bound() -> None:
    pcm = array("h", range(-32768, 32768, 7)).tobytes()
    encoded = audio.mulaw_encode(pcm)
    assert len(encoded) == len(pcm) // 2
    decoded = _samples(audio.mulaw_decode(encoded))
    for x, y in zip(_samples(pcm), decoded, strict=True):
        clipped = max(-32635, min(32635, x))
        # Half a quantisation step: the step doubles with each of the 8 segments.
        assert abs(clipped - y) <= (abs(clipped) + 132) / 32 + 1, (x, y)


def test_mulaw_known_values() -> None:
    assert audio.mulaw_encode(array("h", [0]).tobytes()) == bytes([0xFF])
    assert _samples(audio.mulaw_decode(bytes([0xFF, 0x7F, 0x00, 0x80]))).tolist() == [
        0,
        0,
        -32124,
        32124,
    ]


def _write_wav(path: Path, rate: int, channels: int, width: int, frames: bytes) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(frames)


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_load_wav_converts_to_pcm16_mono_24k(tmp_path: Path, rate: int, channels: int) -> None:
    n = rate // 10  # 100 ms of a 440 Hz tone
    tone = [round(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(n)]
    interleaved = [s for s in tone for _ in range(channels)]
    path = tmp_path / "tone.wav"
    _write_wav(path, rate, channels, 2, array("h", interleaved).tobytes())
    pcm = audio.load_wav(path)
    assert abs(len(pcm) - 4800) <= 2  # 100 ms at 24 kHz, 2 bytes a sample
    assert 4000 < _rms(_samples(pcm)) < 7000  # a 8000-peak sine has an RMS of ~5657


def test_load_wav_8_bit(tmp_path: Path) -> None:
    path = tmp_path / "u8.wav"
    _write_wav(path, 24000, 1, 1, bytes([128, 255, 0, 128]))
    assert _samples(audio.load_wav(path)).tolist() == [0, 127 << 8, -128 << 8, 0]


def test_load_wav_rejects_what_it_cannot_use(tmp_path: Path) -> None:
    path = tmp_path / "s24.wav"
    _write_wav(path, 24000, 3, 3, bytes(90))
    with pytest.raises(InvalidInput) as info:
        audio.load_wav(path)
    assert len(info.value.problems) == 2  # both problems at once
    with pytest.raises(InvalidInput):
        audio.load_wav(tmp_path / "missing.wav")


def test_frame_sizes() -> None:
    assert audio.PCM_FRAME_BYTES == 960
    assert audio.MULAW_FRAME_BYTES == 160
    pcm = audio.synth_speech(410, seed=1)  # not a whole number of frames
    frames = audio.split_frames(pcm, audio.PCM_FRAME_BYTES)
    assert len(frames) == 21
    assert all(len(f) == 960 for f in frames)
    mulaw = audio.pcm24k_to_mulaw8k(pcm)
    assert abs(len(mulaw) - 8000 * 410 // 1000) <= 1
    mframes = audio.split_frames(mulaw, audio.MULAW_FRAME_BYTES, audio.MULAW_SILENCE)
    assert all(len(f) == 160 for f in mframes)
    assert mframes[-1].endswith(bytes([0xFF]))


def test_resample_keeps_a_tone_below_nyquist() -> None:
    tone = [round(10000 * math.sin(2 * math.pi * 300 * i / 24000)) for i in range(2400)]
    down = audio.resample(tone, 24000, 8000)
    assert len(down) == 800
    assert 6000 < _rms(array("h", down)) < 7500
