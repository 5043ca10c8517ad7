"""``/media-stream`` with a caller that behaves as Twilio does (twilio_line.py): the upstream's
server VAD ends each turn, marks follow every chunk, and a caller who barges in gets ``clear``
(and the upstream a truncate) — unless the ``ignore_barge_in`` knob is on."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mocks.realtime.server import RealtimeServer
from tests.mocks.backend.backend_helpers import BackendFactory
from tests.mocks.backend.twilio_line import twilio_line_call

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def long_answers() -> AsyncIterator[Any]:
    """Answers long enough (3 s) to be talked over."""
    async with RealtimeServer(seed=1, greeting_ms=200, answer_ms=3000) as server:
        yield server


async def test_server_vad_answers_a_twilio_caller(
    make_backend: BackendFactory, upstream: Any
) -> None:
    backend = await make_backend(upstream_url=upstream.url)
    result = await twilio_line_call(backend.ws_url, turns=2)
    assert result.errors == []
    assert result.answers == 2
    assert len(result.turn_latencies_ms) == 2
    parts = [m for m in result.marks if m.startswith("part-")]
    ends = [m for m in result.marks if m.startswith("response-")]
    assert len(parts) >= 6  # one after every chunk of the greeting and both answers
    assert ends == ["response-1", "response-2", "response-3"]
    assert result.close_code == 1000


async def test_a_caller_mark_does_not_end_the_turn_under_server_vad(
    make_backend: BackendFactory, upstream: Any
) -> None:
    # Twilio never sends marks of its own: a stray end_of_utterance changes nothing.
    backend = await make_backend(upstream_url=upstream.url)
    result = await twilio_line_call(backend.ws_url, turns=1, speech_ms=600, stray_mark=True)
    assert result.answers == 1
    assert result.turn_latencies_ms[0] >= 450  # server VAD's 500 ms of silence, not a mark


async def test_barge_in_clears_twilio_and_truncates_upstream(
    make_backend: BackendFactory, long_answers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    backend = await make_backend(upstream_url=long_answers.url)
    with caplog.at_level(logging.WARNING, logger="mocks.backend.bridge"):
        result = await twilio_line_call(backend.ws_url, barge_in_after_ms=500)
    # The truncate named the playing item and no more audio than was sent (else: an error).
    assert "upstream rejected a request" not in caplog.text
    assert result.errors == []
    assert len(result.clears) == 1, result
    assert result.clears[0] < 0.3  # speech_started comes with the first loud frame
    # The upstream cancelled the answer (interrupt_response): nothing more of it arrives.
    assert result.audio_after_barge_in_ms < 150, result


async def test_ignore_barge_in_talks_over_the_caller(
    make_backend: BackendFactory, long_answers: Any
) -> None:
    backend = await make_backend(upstream_url=long_answers.url, ignore_barge_in=True)
    result = await twilio_line_call(backend.ws_url, barge_in_after_ms=500)
    assert result.clears == []
    assert result.audio_after_barge_in_ms >= 400  # the answer went on over the caller
