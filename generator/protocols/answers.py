"""Which response answers the caller's turn, for the protocols whose server events name their
responses (native, Realtime): a sans-I/O watch fed each event's meaning (`Note`) and arrival
time, and the read loops the two clients share on top of it.

An answer is assistant audio of a response that *started* after the caller's turn ended (its last
voiced frame): a response already under way then — a greeting that overlapped the caller's
speech, the tail of an earlier answer — is read through and never counted. Each client turns its
own events into Notes (`StreamClient.classify`) and keeps its own extras (tool calls). Under
server VAD a `SilenceLine` keeps the caller's line open while it listens.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection

from generator.protocols.base import (
    BargeIn,
    Clock,
    Deadline,
    ResponseTiming,
    ResponseTracker,
    receive,
    send,
)
from generator.protocols.errors import ResponseTimeout
from generator.protocols.pacing import Repeat, send_paced

# After the barge-in bound, how long a silent line is watched for more audio before the
# assistant counts as stopped (its audio comes paced in real time, so a chunk is never this late).
SILENCE_GRACE_S = 0.5


class Kind(enum.Enum):
    STARTED = "started"  # a response began
    AUDIO = "audio"  # response audio, ``seconds`` long
    DONE = "done"  # a response ended, with ``status``
    CLEARED = "cleared"  # the server dropped the assistant's output (Realtime)
    SPEECH_STOPPED = "speech_stopped"  # the server's VAD saw the caller stop
    TOOL = "tool"  # a tool call (notice or function call) on the way to the answer
    OTHER = "other"


@dataclass(frozen=True)
class Note:
    kind: Kind
    seconds: float = 0.0
    status: str = ""
    response_id: str | None = None  # when the protocol names the response the event is of


OTHER = Note(Kind.OTHER)


class AnswerWatch:
    """The answer to a turn that ended at ``after``, as its server's notes arrive. Responses
    are told apart by their ids where the events carry them (two may interleave), else by
    position (a response runs from its start, or its first audio, to its done)."""

    def __init__(self, after: float) -> None:
        self.after = after
        self.tracker = ResponseTracker()
        self.open = False  # a response is under way (by position)
        self.earlier = False  # the last note was of a response that began before the turn ended
        self.speech_stopped_at: float | None = None
        self.skipped = 0  # audio chunks of earlier responses read through
        self._open_earlier = False
        self._known: set[str] = set()
        self._earlier_ids: set[str] = set()

    def _of_earlier(self, note: Note, at: float) -> bool:
        rid = note.response_id
        if not self.open and note.kind is not Kind.DONE:
            self.open, self._open_earlier = True, at <= self.after
        if rid is None:
            return self._open_earlier
        if rid not in self._known:
            self._known.add(rid)
            if at <= self.after:
                self._earlier_ids.add(rid)
        return rid in self._earlier_ids

    def feed(self, note: Note, at: float) -> bool:
        """Take one note; True when it is audio of the answer."""
        kind = note.kind
        if kind is Kind.STARTED:
            self.open = False  # a new response begins here
            self.earlier = self._of_earlier(note, at)
        elif kind is Kind.AUDIO:
            self.earlier = self._of_earlier(note, at)
            if self.earlier:
                self.skipped += 1
                return False
            self.tracker.audio(at, note.seconds)
            return True
        elif kind is Kind.DONE:
            self.earlier = self._of_earlier(note, at) if note.response_id else self._open_earlier
            self.open = False
        elif kind is Kind.TOOL:
            if not self._open_earlier:
                self.tracker.tool_calls += 1
        elif kind is Kind.SPEECH_STOPPED and at > self.after and self.speech_stopped_at is None:
            self.speech_stopped_at = at
        return False

    def answer_done(self, note: Note) -> bool:
        """Whether ``note`` (just fed) ends the answer: the done of a response with audio."""
        return note.kind is Kind.DONE and not self.earlier and self.tracker.has_audio

    def finish(self, at: float) -> ResponseTiming:
        return self.tracker.finish(at, self.speech_stopped_at)


class SilenceLine:
    """The caller's line while it listens, under server VAD: silence frames at real-time pace,
    so the server hears the turn end (a VAD needs the silence, not the lack of frames)."""

    def __init__(self, ws: ClientConnection, frame: str | bytes, clock: Clock) -> None:
        self._ws, self._frame, self._clock = ws, frame, clock
        self._task: asyncio.Task[float] | None = None

    def start(self) -> None:
        if self._task is None:

            async def send_frame(_k: int, frame: str | bytes, _due: float) -> None:
                await send(self._ws, frame)

            frames: Repeat[str | bytes] = Repeat(self._frame)
            self._task = asyncio.create_task(
                send_paced(frames, send_frame, clock=self._clock, on_lag=_no_lag)
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _no_lag(_lag_s: float) -> None:
    """Silence's send lag is not the caller's speech's: not recorded."""


class StreamClient(Protocol):
    """What the shared read loops need of a client."""

    settings: Any
    _clock: Clock

    @property
    def ws(self) -> ClientConnection: ...

    def classify(self, message: str | bytes) -> Note:
        """The meaning of one server message (raising for errors and unreadable frames)."""

    async def after_done(self, note: Note, watch: AnswerWatch) -> bool:
        """A response of the answer ended without audio: True to read on (tool calls were
        answered and a spoken answer follows), or raise."""


async def read_answer(
    client: StreamClient, after: float, deadline: Deadline, watch: AnswerWatch | None = None
) -> ResponseTiming:
    """Read to the end of the answer to the turn that ended at ``after``."""
    watch = watch or AnswerWatch(after)
    while True:
        message, at = await receive(client.ws, deadline)
        note = client.classify(message)
        if watch.feed(note, at) or note.kind is Kind.TOOL:
            deadline.extend()
        if note.kind is Kind.DONE and not watch.earlier:
            if watch.answer_done(note):
                return watch.finish(at)
            if await client.after_done(note, watch):
                deadline.extend()


async def read_barge_in(
    client: StreamClient,
    after: float,
    start: Callable[[], asyncio.Future[float]],
    after_s: float,
    bound_s: float,
) -> tuple[BargeIn, AnswerWatch]:
    """Read the answer to its first audio, have ``start()`` begin the caller's speech
    ``after_s`` later (it returns a future of the first voiced frame's send time), and watch
    whether the assistant stops within ``bound_s`` of it."""
    settings, clock = client.settings, client._clock
    deadline = Deadline(clock, settings.response_timeout_s, ResponseTimeout)
    watch = AnswerWatch(after)
    while True:
        message, at = await receive(client.ws, deadline)
        note = client.classify(message)
        if watch.feed(note, at):
            break
        if note.kind is Kind.DONE and not watch.earlier and await client.after_done(note, watch):
            deadline.extend()
    first = watch.tracker.first_at
    assert first is not None
    cut_in = first + after_s

    def answer_over(note: Note) -> bool:
        return note.kind is Kind.DONE and not watch.earlier

    finished = await _read_until(client, watch, cut_in, answer_over)
    voiced: asyncio.Future[float] = start()
    if finished is not None:  # the answer was over before the caller would have cut in
        return BargeIn(first, None, None, False), watch
    speech_at = await voiced
    bound = speech_at + bound_s
    stopped_at: float | None = None
    stop = await _read_until(
        client, watch, bound + SILENCE_GRACE_S, lambda n: n.kind is Kind.CLEARED or answer_over(n)
    )
    if stop is not None and (stop[0].kind is Kind.CLEARED or stop[0].status == "cancelled"):
        stopped_at, ignored = stop[1], False
    else:  # completed, or nothing ended it by the bound: talked on if audio came past it
        ignored = watch.tracker.last_at >= bound
    if stopped_at is not None and stopped_at < speech_at:
        stopped_at = None
    return BargeIn(first, speech_at, stopped_at, ignored), watch


async def _read_until(
    client: StreamClient, watch: AnswerWatch, until: float, stop: Callable[[Note], bool]
) -> tuple[Note, float] | None:
    """Feed notes until one ``stop(note)`` accepts (returned with its time) or ``until``."""
    clock = client._clock
    while True:
        left = until - clock()
        if left <= 0:
            return None
        try:
            async with asyncio.timeout(left):
                message, at = await receive(
                    client.ws, Deadline(clock, max(left, 0.001) + 1.0, ResponseTimeout)
                )
        except TimeoutError:
            return None
        note = client.classify(message)
        watch.feed(note, at)
        if stop(note):
            return note, at


__all__ = [
    "OTHER",
    "AnswerWatch",
    "Kind",
    "Note",
    "SilenceLine",
    "StreamClient",
    "read_answer",
    "read_barge_in",
]
