"""benchmarks/frame_cpu.py: the hand-driven line measures real frames, speech ones timed."""

from __future__ import annotations

import pytest

from benchmarks import frame_cpu
from generator.audio import utterance_pcm
from generator.protocols import encode_audio


async def test_speech_and_silence_frames_are_measured() -> None:
    speech = encode_audio("twilio", utterance_pcm(2000, 1))
    for utterance in (speech, None):
        found = await frame_cpu.measure(5, 0.5, utterance)
        assert 0 < found < 10_000  # µs of CPU per frame: frames were written and counted


def test_bad_arguments_are_refused_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["0"], ["many"], ["5", "0"]):
        assert frame_cpu.main(argv) == 2
        assert "usage" in capsys.readouterr().err
