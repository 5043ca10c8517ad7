"""The call steps the native and Realtime clients share: their servers name their responses, so
both speak the same way and listen through the same read loops (answers.py).

`ListeningClient` keeps the connection, the send time of the caller's last voiced frame (every
turn latency's origin), and under server VAD the `SilenceLine` that keeps the caller's line open
while it listens. It speaks an utterance at real-time pace, hears out the greeting and the answer
to a turn, and barges in; a subclass says how to open its session, how to end a turn and what its
server's events mean (`classify`, `after_done`).
"""

from __future__ import annotations

import abc
import asyncio
import math

from websockets.asyncio.client import ClientConnection

from generator.protocols.answers import (
    AnswerWatch,
    Note,
    SilenceLine,
    read_answer,
    read_barge_in,
)
from generator.protocols.base import (
    BargeIn,
    ClientSettings,
    Deadline,
    GreetingMode,
    LagSink,
    ResponseTiming,
    Utterance,
    close_quietly,
    open_call,
    send,
)
from generator.protocols.errors import GreetingTimeout, ProtocolViolation, ResponseTimeout
from generator.protocols.pacing import send_paced


class ListeningClient(abc.ABC):
    """One call to a server whose events name their responses; ``silence`` is the frame the
    line carries while the caller listens under server VAD."""

    def __init__(
        self, settings: ClientSettings, url: str, *, server_vad: bool, silence: str | bytes
    ) -> None:
        self.settings = settings
        self.url = url
        self.server_vad = server_vad
        self._silence = silence
        self._clock = settings.clock
        self._ws: ClientConnection | None = None
        self._voiced_at = 0.0
        self._line: SilenceLine | None = None

    @property
    def ws(self) -> ClientConnection:
        if self._ws is None:
            raise ProtocolViolation("not connected")
        return self._ws

    async def _open(self, headers: tuple[tuple[str, str], ...]) -> float:
        """Open the connection with ``headers``; returns the clock time it was up."""
        self._ws = await open_call(self.settings, self.url, headers)
        if self.server_vad:
            self._line = SilenceLine(self._ws, self._silence, self._clock)
        return self._clock()

    async def _hear_greeting(self, mode: GreetingMode, deadline: Deadline) -> ResponseTiming | None:
        """The greeting read to its end (mode wait or auto); in mode auto, None when nothing of
        one came by the deadline."""
        watch = AnswerWatch(-math.inf)
        try:
            return await read_answer(self, -math.inf, deadline, watch)
        except GreetingTimeout:
            if mode == "auto" and not (watch.open or watch.tracker.has_audio):
                return None
            raise

    async def send_utterance(self, utterance: Utterance, on_lag: LagSink) -> None:
        await self._send_utterance(utterance, on_lag, None)

    async def _send_utterance(
        self, utterance: Utterance, on_lag: LagSink, voiced: asyncio.Future[float] | None
    ) -> None:
        ws, clock = self.ws, self._clock
        first, last = utterance.first_voiced, utterance.last_voiced

        async def send_frame(k: int, frame: str | bytes, _due: float) -> None:
            await send(ws, frame)
            if k == last:
                self._voiced_at = clock()
            if k == first and voiced is not None and not voiced.done():
                voiced.set_result(clock())

        await send_paced(utterance.frames, send_frame, clock=clock, on_lag=on_lag)

    async def wait_response(self) -> ResponseTiming:
        deadline = Deadline(self._clock, self.settings.response_timeout_s, ResponseTimeout)
        line = self._line
        if line is None:
            return await read_answer(self, self._voiced_at, deadline)
        line.start()
        try:
            return await read_answer(self, self._voiced_at, deadline)
        finally:
            await line.stop()

    async def barge_in(
        self, utterance: Utterance, after_s: float, bound_s: float, on_lag: LagSink
    ) -> BargeIn:
        sender: asyncio.Task[None] | None = None
        line = self._line

        async def speak(voiced: asyncio.Future[float]) -> None:
            try:
                if line is not None:
                    await line.stop()
                await self._send_utterance(utterance, on_lag, voiced)
            except Exception as exc:  # the watch waits on the first voiced frame: tell it
                if not voiced.done():
                    voiced.set_exception(exc)
                raise

        def start() -> asyncio.Future[float]:
            nonlocal sender
            voiced: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            sender = asyncio.create_task(speak(voiced))
            return voiced

        if line is not None:
            line.start()
        try:
            barge, _watch = await read_barge_in(self, self._voiced_at, start, after_s, bound_s)
            if sender is not None:
                await sender
        finally:
            if sender is not None:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
            if line is not None:
                await line.stop()
        return barge

    async def close(self) -> None:
        await close_quietly(self._ws)

    @abc.abstractmethod
    def classify(self, message: str | bytes) -> Note:
        """The meaning of one server message (raising for errors and unreadable frames)."""

    @abc.abstractmethod
    async def after_done(self, note: Note, watch: AnswerWatch) -> bool:
        """A response of the answer ended without audio: True to read on, or raise."""


__all__ = ["ListeningClient"]
