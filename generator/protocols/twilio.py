"""The client side of a Twilio Media Stream: the generator plays Twilio calling a backend's
`/media-stream` endpoint, as a `<Connect><Stream>` would (docs/protocol.md).

Up, as Twilio sends them: `connected`, `start`, then one `media` frame every 20 ms for the whole
call (sequenceNumber, chunk and timestamp as strings): the caller's speech when it talks, line
silence (or seeded low-level noise) when it does not; never a gap, never a mark of its own;
`stop` at the hang-up. Down: `media`, `mark` and `clear` go to the playback model
(generator/protocols/playback.py): each mark is echoed, as it came, when playback reaches it.

The backend decides the turns (its VAD listens to the line); the caller's turn ends with its last
voiced frame, and an answer is assistant audio that starts after that and ends when the line has
been quiet for the quiet gap. A line task (the loop's shared pacer, each frame a string template
written straight to the transport) and a reader task run for the whole call; the call's steps
wait on what they fill in.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any, Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from generator.audio import MULAW_RATE
from generator.protocols.base import (
    BargeIn,
    ClientSettings,
    GreetingMode,
    LagSink,
    ResponseTiming,
    TimedConnection,
    TurnEnd,
    Utterance,
    b64_size,
    close_quietly,
    open_call,
    parse_event,
    send,
)
from generator.protocols.errors import (
    CallError,
    GreetingTimeout,
    ProtocolViolation,
    ResponseTimeout,
    ServerError,
    SessionFailed,
    classify_session,
)
from generator.protocols.pacing import Repeat, play_paced, ready, write_text
from generator.protocols.playback import Playback, Segment
from generator.protocols.twilio_wire import SILENCE_PAYLOAD, line_noise, sid, twilio_url

# The line's frames for the pacer: what each one carries is decided when it is sent (`_frame`).
ENDLESS: Final = Repeat("")


class TwilioClient:
    """One call as a Twilio Media Stream."""

    protocol = "twilio"

    def __init__(self, settings: ClientSettings, rng: random.Random) -> None:
        self.settings = settings
        self.url = twilio_url(settings.url)
        self._clock = settings.clock
        self.account_sid = sid("AC", rng)
        self.call_sid = sid("CA", rng)
        self.stream_sid = sid("MZ", rng)
        self._silence = line_noise(rng) if settings.line_noise else [SILENCE_PAYLOAD]
        self._silence_n = len(self._silence)
        self.playback = Playback(settings.quiet_gap_s)
        self._ws: ClientConnection | None = None
        self._sequence = 0
        self._chunk = 0
        self._started_at = 0.0
        self._media = (
            '{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d",'
            '"timestamp":"%d","payload":"%s"},"streamSid":"' + self.stream_sid + '"}'
        )
        # The utterance on the line, and what its sending has shown so far.
        self._speech: Utterance | None = None
        self._speech_k = 0
        self._speech_lag: LagSink | None = None
        self._lag_target: LagSink | None = None
        self._speech_done: asyncio.Future[float] | None = None
        self._voiced: asyncio.Future[float] | None = None
        self._voiced_at = 0.0
        self._turn: TurnEnd | None = None
        self._failure: CallError | None = None
        self._changed: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def ws(self) -> ClientConnection:
        if self._ws is None:
            raise ProtocolViolation("not connected")
        return self._ws

    def _event(self, event: str, **fields: Any) -> str:
        self._sequence += 1
        body = {"event": event, "sequenceNumber": str(self._sequence), **fields}
        return json.dumps({**body, "streamSid": self.stream_sid})

    async def connect(self) -> float:
        self._ws = await open_call(self.settings, self.url)
        connected_at = self._clock()
        self._started_at = connected_at
        await send(
            self._ws, json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        )
        start = {
            "streamSid": self.stream_sid,
            "accountSid": self.account_sid,
            "callSid": self.call_sid,
            "tracks": ["inbound"],
            "customParameters": {},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": MULAW_RATE, "channels": 1},
        }
        await send(self._ws, self._event("start", start=start))
        self._tasks = [
            asyncio.create_task(self._run_line()),
            asyncio.create_task(self._run_reader()),
        ]
        return connected_at

    # -- the line: one media frame every 20 ms --------------------------------------------------

    async def _run_line(self) -> None:
        ws, playback, clock = self.ws, self.playback, self._clock

        def write_now(_k: int, _frame: str, due: float) -> bool:
            # Every frame of the call, 50 a second: its lag is taken here, only for speech.
            if not ready(ws):
                return False
            write_text(ws, self._frame(due).encode())
            target = self._lag_target
            if target is not None:
                now = clock()
                target(now - due if now > due else 0.0)
            if playback.current is not None or playback.marks:
                for mark in self._marks_due(due):
                    write_text(ws, mark.encode())
            return True

        async def send_frame(_k: int, _frame: str, due: float) -> None:
            await send(ws, self._frame(due))
            target = self._lag_target
            if target is not None:
                target(max(0.0, clock() - due))
            for mark in self._marks_due(due):
                await send(ws, mark)

        try:
            await play_paced(ENDLESS, write_now, send_frame, clock=clock, on_lag=None)
        except CallError as exc:
            self._fail(exc)
        except (OSError, ConnectionClosed) as exc:
            self._fail(classify_session(exc))

    def _frame(self, due: float) -> str:
        """The media message for the frame due now: the utterance's next frame, or silence."""
        # The hot path of every call, 50 times a second: kept to a few attribute reads.
        sequence = self._sequence = self._sequence + 1
        chunk = self._chunk = self._chunk + 1
        speech = self._speech
        if speech is None:
            self._lag_target = None
            payload = self._silence[chunk % self._silence_n]
        else:
            k = self._speech_k
            payload = str(speech.frames[k])
            self._lag_target = self._speech_lag
            if k == speech.first_voiced or k == speech.last_voiced:
                now = self._clock()
                if k == speech.last_voiced:
                    self._voiced_at = now
                voiced = self._voiced
                if k == speech.first_voiced and voiced is not None and not voiced.done():
                    voiced.set_result(now)
            self._speech_k = k = k + 1
            if k == len(speech.frames):
                self._speech = None
                done = self._speech_done
                if done is not None and not done.done():
                    done.set_result(self._clock())
        timestamp = round((due - self._started_at) * 1000)
        return self._media % (sequence, chunk, timestamp, payload)

    def _marks_due(self, now: float) -> list[str]:
        playback = self.playback
        before = playback.current
        marks = playback.due(now)
        if before is not None and playback.current is None:
            self._notify()  # a segment ended
        return [self._event("mark", mark=mark) for mark in marks]

    # -- the reader: the backend's media, marks and clears --------------------------------------

    async def _run_reader(self) -> None:
        ws = self.ws
        try:
            while True:
                message = await ws.recv()
                arrivals = ws.arrivals if isinstance(ws, TimedConnection) else None
                at = arrivals.popleft() if arrivals else self._clock()
                if isinstance(message, bytes):
                    raise ProtocolViolation("a binary frame on a Twilio media stream")
                await self._handle(parse_event(message), at)
        except CallError as exc:
            self._fail(exc)
        except (OSError, ConnectionClosed) as exc:
            self._fail(classify_session(exc))

    async def _handle(self, event: dict[str, Any], at: float) -> None:
        kind = event.get("event")
        playback = self.playback
        if kind == "media":
            media = event.get("media")
            payload = media.get("payload") if isinstance(media, dict) else None
            if not isinstance(payload, str):
                raise ProtocolViolation("a media event without a payload")
            before = playback.current
            if playback.media(at, b64_size(payload) / MULAW_RATE) is not before:
                self._notify()  # a segment started
        elif kind == "mark":
            mark = event.get("mark")
            playback.mark(at, dict(mark) if isinstance(mark, dict) else {})
        elif kind == "clear":
            for mark in playback.clear(at):
                await send(self.ws, self._event("mark", mark=mark))
            self._notify()
        elif kind == "error":  # not Twilio's, but a backend may say why it gives up
            raise ServerError(str(event.get("code") or "unknown"), str(event.get("message")))

    # -- waiting on what the tasks fill in ------------------------------------------------------

    def _notify(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)

    def _fail(self, exc: CallError) -> None:
        if self._failure is None:
            self._failure = exc
        for future in (self._changed, self._speech_done, self._voiced):
            if future is not None and not future.done():
                future.set_exception(exc)
                future.exception()  # whoever awaits it raises; nobody need to

    async def _until(
        self, ready_: Callable[[], bool], until: float, error: Callable[[], SessionFailed] | None
    ) -> bool:
        """Wait until ``ready_()`` (True) or the clock reaches ``until`` (False, or ``error()``
        raised); a failure of the line or the reader is raised here."""
        while True:
            if self._failure is not None:
                raise self._failure
            if ready_():
                return True
            left = until - self._clock()
            if left <= 0:
                if error is not None:
                    raise error()
                return False
            self._changed = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(left):
                    await self._changed
            except TimeoutError:
                pass

    async def _segment_end(self, segment: Segment) -> ResponseTiming:
        # A segment ends by itself once the line is quiet; this bound only catches a backend
        # that never stops talking.
        def stalled() -> SessionFailed:
            return ResponseTimeout(f"the assistant's audio did not end within {limit:g} s")

        limit = max(60.0, 4 * self.settings.response_timeout_s)
        await self._until(lambda: segment.ended_at is not None, self._clock() + limit, stalled)
        return segment.timing()

    async def wait_greeting(self, mode: GreetingMode) -> ResponseTiming | None:
        if mode == "none":
            return None
        playback, timeout = self.playback, self.settings.greeting_timeout_s

        def none_came() -> SessionFailed:
            return GreetingTimeout(f"no assistant audio within {timeout:g} s of the start")

        until = self._started_at + timeout
        came = await self._until(
            lambda: bool(playback.segments), until, none_came if mode == "wait" else None
        )
        return await self._segment_end(playback.segments[0]) if came else None

    async def send_utterance(self, utterance: Utterance, on_lag: LagSink) -> None:
        await self._speak(utterance, on_lag)

    def _start_speaking(self, utterance: Utterance, on_lag: LagSink) -> asyncio.Future[float]:
        if self._speech is not None:
            raise ProtocolViolation("the caller is already speaking")
        loop = asyncio.get_running_loop()
        self._speech_done = done = loop.create_future()
        self._voiced = loop.create_future()
        self._speech_k, self._speech_lag = 0, on_lag
        self._speech = utterance
        return done

    async def _speak(self, utterance: Utterance, on_lag: LagSink) -> float:
        done = self._start_speaking(utterance, on_lag)
        ended_at = await done
        self._turn = TurnEnd(self._voiced_at, ended_at)
        return ended_at

    async def end_utterance(self) -> TurnEnd:
        if self._turn is None:
            raise ProtocolViolation("no utterance was sent")
        return self._turn

    async def _answer(self) -> Segment:
        if self._turn is None:
            raise ProtocolViolation("no utterance was sent")
        turn, playback, timeout = self._turn, self.playback, self.settings.response_timeout_s

        def no_answer() -> SessionFailed:
            earlier = playback.before(turn.voiced_at)
            detail = f"no assistant audio started within {timeout:g} s after the caller's turn"
            if earlier is not None and earlier.last_at > turn.voiced_at:
                late_ms = (earlier.last_at - turn.voiced_at) * 1000
                detail += (
                    f"; audio of a response that started before the turn ended kept arriving "
                    f"for {late_ms:.0f} ms after it (not an answer)"
                )
            return ResponseTimeout(detail)

        await self._until(
            lambda: playback.answer_after(turn.voiced_at) is not None,
            turn.ended_at + timeout,
            no_answer,
        )
        answer = playback.answer_after(turn.voiced_at)
        assert answer is not None
        return answer

    async def wait_response(self) -> ResponseTiming:
        return await self._segment_end(await self._answer())

    async def barge_in(
        self, utterance: Utterance, after_s: float, bound_s: float, on_lag: LagSink
    ) -> BargeIn:
        answer = await self._answer()
        first = answer.started_at
        playing = await self._until(
            lambda: answer.ended_at is not None, answer.played_at + after_s, None
        )
        if playing:  # the answer was over before the caller would have cut in
            await self._speak(utterance, on_lag)
            return BargeIn(first, None, None, False)
        done = self._start_speaking(utterance, on_lag)
        assert self._voiced is not None
        speech_at = await self._voiced
        await self._until(lambda: answer.ended_at is not None, speech_at + bound_s, None)
        stopped_at = answer.cleared_at
        if stopped_at is not None and stopped_at < speech_at:
            stopped_at = None  # cleared before the caller spoke: not a reaction to it
        heard = self.playback.playing(self._clock()) or answer.ended_at is None
        ignored = stopped_at is None and heard
        ended_at = await done
        self._turn = TurnEnd(self._voiced_at, ended_at)
        return BargeIn(first, speech_at, stopped_at, ignored)

    # -- the end of the call --------------------------------------------------------------------

    async def _stop_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def hangup(self) -> None:
        if self._failure is not None:
            raise self._failure
        await self._stop_tasks()
        stop = {"accountSid": self.account_sid, "callSid": self.call_sid}
        await send(self.ws, self._event("stop", stop=stop))
        await self.close()

    async def close(self) -> None:
        await self._stop_tasks()
        await close_quietly(self._ws)


__all__ = ["TwilioClient"]
