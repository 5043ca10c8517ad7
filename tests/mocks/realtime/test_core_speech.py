"""The upstream's audio: G.711 codecs against their known values, the synthetic speech (not
silence, deterministic), and the energy VAD on the audio timeline."""

from __future__ import annotations

import pytest

from mocks.realtime.session_config import VadSettings
from mocks.realtime.speech import (
    AudioFormat,
    alaw_decode,
    alaw_encode,
    rms,
    speech,
    ulaw_decode,
    ulaw_encode,
)
from mocks.realtime.vad import ServerVad, SpeechStarted, SpeechStopped


def test_g711_known_values_and_round_trip() -> None:
    # Reference values of ITU-T G.711 (as produced by the reference codecs).
    assert [ulaw_encode(s) for s in (0, 100, -100, 1000, 32767, -32768)] == [
        255, 242, 114, 206, 128, 0
    ]  # fmt: skip
    assert [alaw_encode(s) for s in (0, 100, -100, 1000, 32767, -32768)] == [
        213, 211, 83, 250, 170, 42
    ]  # fmt: skip
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        for sample in range(-32000, 32000, 997):
            assert abs(decode(encode(sample)) - sample) <= max(16, abs(sample) * 0.07)


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_speech_is_loud_enough_deterministic_and_sized(fmt: AudioFormat) -> None:
    audio = speech(fmt, 500)
    assert len(audio) == fmt.bytes_for_ms(500)
    assert rms(audio, fmt) > 0.05
    assert audio == speech(fmt, 500)
    assert speech(fmt, 500, 1) != audio


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_vad_on_the_audio_timeline(fmt: AudioFormat) -> None:
    silence_byte = {AudioFormat.PCM16: 0, AudioFormat.PCMU: 0xFF, AudioFormat.PCMA: 0xD5}[fmt]
    silence = bytes([silence_byte]) * fmt.bytes_for_ms(700)
    vad = ServerVad(VadSettings(silence_duration_ms=500, prefix_padding_ms=300), fmt)
    assert vad.feed(silence) == []
    (started,) = vad.feed(speech(fmt, 1000))
    assert isinstance(started, SpeechStarted)
    # Speech begins at 700 ms (its first syllable fades in), minus 300 ms of prefix padding.
    assert 400 <= started.audio_start_ms <= 460
    (stopped,) = vad.feed(silence)
    assert isinstance(stopped, SpeechStopped)
    assert 700 + 1000 + 500 - 100 <= stopped.audio_end_ms <= 700 + 1000 + 500
