"""Twilio's side of a Media Stream's downlink, without I/O: the playback buffer that plays the
backend's audio to the caller in real time, the marks it echoes once playback reaches them, what
`clear` does, and the assistant's turns as the caller hears them.

Twilio queues the `media` a backend sends and plays it at 8 kHz; a `mark` sits in that queue and
is sent back when the audio before it has played; `clear` empties the queue and sends back every
mark still in it (Twilio's Media Streams docs). Nothing on the wire says where an assistant turn
ends, so this model reads it from the stream as a caller would: a `Segment` of assistant speech
starts with media on a quiet line and ends once the line has been quiet — nothing left to play,
nothing arriving — for ``quiet_gap_s``, or at a `clear`.

Feed it what arrives (`media(t, seconds)`, `mark(t, mark)`, `clear(t)`) and, as time passes,
`due(now)`: the marks to echo now. `segments` are the assistant's turns so far. All times are one
clock's seconds; no sockets, no sleeping, so tests drive it with made-up times.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Any

from generator.protocols.base import ResponseTiming


@dataclass
class Segment:
    """One stretch of assistant speech as the caller heard it."""

    index: int
    started_at: float  # arrival of its first media (an idle line plays it at once)
    played_at: float  # when its first audio began to play (later if older audio was queued)
    last_at: float  # arrival of its last media
    audio_s: float = 0.0
    last_chunk_s: float = 0.0
    chunks: int = 0
    cleared_at: float | None = None  # a `clear` cut it short
    ended_at: float | None = None  # the line went quiet for the gap after it (or its clear)

    def timing(self) -> ResponseTiming:
        done = self.ended_at if self.ended_at is not None else self.last_at
        return ResponseTiming(self.started_at, self.last_at, self.audio_s, self.last_chunk_s, done)


class Playback:
    """The caller's phone: what is queued to play, the marks in the queue, the segments heard."""

    def __init__(self, quiet_gap_s: float) -> None:
        if quiet_gap_s <= 0:
            raise ValueError("the quiet gap must be positive")
        self.quiet_gap_s = quiet_gap_s
        self.play_end = -math.inf  # when everything queued so far will have played
        self.last_arrival = -math.inf
        self.segments: list[Segment] = []
        self.current: Segment | None = None
        # (the play position at which the mark is reached, the mark object as it came)
        self.marks: collections.deque[tuple[float, Any]] = collections.deque()

    @property
    def pending_marks(self) -> int:
        return len(self.marks)

    def playing(self, now: float) -> bool:
        """Whether the caller hears assistant audio at ``now``."""
        return self.play_end > now

    def media(self, t: float, seconds: float) -> Segment:
        """``seconds`` of audio arrived at ``t``; returns the segment it belongs to."""
        self._close_if_quiet(t)
        starts_at = max(t, self.play_end)
        segment = self.current
        if segment is None:
            segment = Segment(len(self.segments), t, starts_at, t)
            self.segments.append(segment)
            self.current = segment
        segment.last_at = t
        segment.audio_s += seconds
        segment.last_chunk_s = seconds
        segment.chunks += 1
        self.play_end = starts_at + seconds
        self.last_arrival = t
        return segment

    def mark(self, t: float, mark: Any) -> None:
        """A mark arrived at ``t``: it is reached once the audio queued before it has played
        (at once on an idle line)."""
        self.marks.append((max(t, self.play_end), mark))

    def clear(self, t: float) -> list[Any]:
        """A `clear` at ``t``: the queue is emptied, and every mark still in it is returned, to
        be sent back now, as Twilio does."""
        marks = [mark for _at, mark in self.marks]
        self.marks.clear()
        self.play_end = min(self.play_end, t)
        if self.current is not None:
            self.current.cleared_at = self.current.ended_at = t
            self.current = None
        return marks

    def due(self, now: float) -> list[Any]:
        """The marks playback has reached by ``now``, in order (to echo now); also closes the
        current segment once the line has been quiet for the gap."""
        marks = self.marks
        out = []
        while marks and marks[0][0] <= now:
            out.append(marks.popleft()[1])
        self._close_if_quiet(now)
        return out

    def quiet_from(self) -> float:
        """Since when the line has had nothing to play and nothing arriving."""
        return max(self.play_end, self.last_arrival)

    def _close_if_quiet(self, now: float) -> None:
        segment = self.current
        if segment is not None:
            end = self.quiet_from() + self.quiet_gap_s
            if now >= end:
                segment.ended_at = end
                self.current = None

    def answer_after(self, t: float) -> Segment | None:
        """The first segment that started after ``t`` (an answer to a turn that ended then):
        audio of a segment already under way at ``t`` is never an answer."""
        for segment in reversed(self.segments):
            if segment.started_at <= t:
                break
            if segment.index == 0 or self.segments[segment.index - 1].started_at <= t:
                return segment
        return None

    def before(self, t: float) -> Segment | None:
        """The last segment that started at or before ``t`` (the evidence when no answer comes:
        its audio may have gone on arriving after ``t``)."""
        for segment in reversed(self.segments):
            if segment.started_at <= t:
                return segment
        return None


__all__ = ["Playback", "Segment"]
