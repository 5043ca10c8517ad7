"""Twilio's playback buffer as generator/protocols/playback.py models it, driven with made-up
times (no sockets): marks echoed when playback reaches them, `clear` returning the pending marks,
assistant turns read from the stream, and which audio may count as an answer."""

from __future__ import annotations

import pytest

from generator.protocols.playback import Playback

GAP = 0.5


def test_a_mark_is_echoed_when_playback_reaches_it_not_when_it_arrives() -> None:
    line = Playback(GAP)
    line.media(0.0, 1.0)  # a second of audio, all at once
    line.mark(0.01, {"name": "end"})
    assert line.due(0.5) == []
    assert line.due(0.999) == []
    assert line.due(1.0) == [{"name": "end"}]
    assert line.pending_marks == 0


def test_a_mark_on_an_idle_line_is_echoed_at_once() -> None:
    line = Playback(GAP)
    line.mark(3.0, {"name": "hello"})
    assert line.due(3.0) == [{"name": "hello"}]


def test_marks_after_every_chunk_come_back_in_order_as_each_chunk_plays() -> None:
    line = Playback(GAP)
    for k in range(5):  # a burst: five 100 ms chunks, each followed by a (nameless) mark
        line.media(0.0, 0.1)
        line.mark(0.0, {} if k % 2 else {"name": f"part-{k}"})
    assert line.due(0.05) == []
    assert line.due(0.25) == [{"name": "part-0"}, {}]
    assert line.due(0.5) == [{"name": "part-2"}, {}, {"name": "part-4"}]
    # A mark ends nothing: the one segment is still playing out its quiet gap.
    assert len(line.segments) == 1
    assert line.current is not None


def test_clear_empties_the_buffer_and_returns_every_pending_mark() -> None:
    line = Playback(GAP)
    line.media(0.0, 2.0)
    line.mark(0.0, {"name": "a"})
    line.media(0.0, 1.0)
    line.mark(0.0, {"name": "b"})
    assert line.playing(0.5)
    assert line.clear(0.5) == [{"name": "a"}, {"name": "b"}]
    assert not line.playing(0.5)
    assert line.due(10.0) == []  # nothing echoed twice
    segment = line.segments[0]
    assert segment.cleared_at == segment.ended_at == 0.5
    # Audio after a clear is a new segment.
    line.media(0.6, 0.1)
    assert len(line.segments) == 2


def test_a_turn_ends_once_the_line_has_been_quiet_for_the_gap() -> None:
    line = Playback(GAP)
    for k in range(10):  # paced in real time: 20 ms chunks every 20 ms, none late
        line.media(k * 0.02, 0.02)
    line.due(0.2 + GAP - 0.01)
    assert line.current is not None
    line.due(0.2 + GAP)
    segment = line.segments[0]
    assert segment.ended_at == pytest.approx(0.2 + GAP)
    assert segment.chunks == 10
    assert segment.audio_s == pytest.approx(0.2)
    timing = segment.timing()
    assert timing.first_audio_at == 0.0
    assert timing.last_audio_at == pytest.approx(0.18)


def test_a_burst_is_heard_out_before_the_gap_counts() -> None:
    line = Playback(GAP)
    line.media(0.0, 3.0)  # three seconds of audio arriving at once
    line.due(1.0)
    assert line.current is not None  # still playing
    line.due(3.0 + GAP)
    assert line.segments[0].ended_at == pytest.approx(3.0 + GAP)


def test_a_pause_shorter_than_the_gap_stays_in_the_segment() -> None:
    line = Playback(GAP)
    line.media(0.0, 0.1)
    line.media(0.1 + GAP - 0.05, 0.1)
    assert len(line.segments) == 1
    line.media(10.0, 0.1)
    assert len(line.segments) == 2


def test_audio_under_way_when_the_turn_ended_is_never_the_answer() -> None:
    line = Playback(GAP)
    # A long greeting that overlaps the caller's speech: it started at 0, the caller's turn
    # ended at 1.0, its audio went on arriving until 2.0.
    for k in range(100):
        line.media(k * 0.02, 0.02)
    turn_end = 1.0
    assert line.answer_after(turn_end) is None
    earlier = line.before(turn_end)
    assert earlier is not None
    assert earlier.last_at > turn_end
    line.due(2.0 + GAP)
    line.media(3.0, 0.1)  # the real answer
    answer = line.answer_after(turn_end)
    assert answer is not None
    assert answer.started_at == 3.0
    assert answer.index == 1


def test_no_greeting_at_all_leaves_no_segment() -> None:
    line = Playback(GAP)
    line.due(100.0)
    assert line.segments == []
    assert line.answer_after(0.0) is None
    assert line.before(100.0) is None


def test_the_gap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Playback(0)
