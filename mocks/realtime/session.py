"""The sans-I/O Realtime session: client events in, timed server events out; no sockets, no clock.

The I/O shell feeds ``receive(message, now)`` with each frame and the time it arrived, sends what
``due(now)`` returns, sleeps until ``next_deadline()`` (or the next frame), and reports each send
back with ``sent(output, now)`` so the session can record when the first delta really left.
Tests drive it with made-up times and no event loop at all.

Besides outputs the queue holds the session's own timers (the idle timeout, the maximum duration):
they fire inside ``due`` and may queue outputs of their own. Items live in ``conversation.py``,
turn detection in ``vad.py``, a response's timeline in ``response.py``.
"""

from __future__ import annotations

import binascii
import enum
import logging
import random
from base64 import b64decode
from collections.abc import Callable
from typing import Any

from mocks.realtime.client_events import BadEvent, field_of, parse_client_event
from mocks.realtime.conversation import Conversation
from mocks.realtime.events import Event, EventFactory, beta_refusal, session_expired
from mocks.realtime.faults import FaultsConfig
from mocks.realtime.faults.base import FaultStreams, SessionOptions
from mocks.realtime.faults.plan import draw_response_plan, session_options
from mocks.realtime.outputs import Close, Output, Reset, Send
from mocks.realtime.response import (
    ActiveResponse,
    build_timeline,
    cancelled_done,
    open_response,
    playback_end_offset,
)
from mocks.realtime.schedule import Queued, Schedule, Timer
from mocks.realtime.script import Reply, ReplyKind, Script, ScriptConfig
from mocks.realtime.session_config import SessionSettings, apply_update, check_ga_shape, render
from mocks.realtime.stats import NullListener, ResponseRecord, SessionListener, SessionRecord
from mocks.realtime.vad import ServerVad, SpeechStarted

MIN_COMMIT_MS = 100.0
DEFAULT_MAX_DURATION_S = SessionOptions().max_duration_s  # OpenAI's 60 minutes
logger = logging.getLogger(__name__)


class State(enum.IntEnum):
    OPEN = 1
    CLOSED = 2  # a close or reset was handed out: nothing more will be sent


class RealtimeSession:
    def __init__(
        self,
        *,
        number: int,
        model: str,
        beta: bool,
        rng: random.Random,
        faults: Callable[[], FaultsConfig],
        script: ScriptConfig,
        now: float,
        listener: SessionListener | None = None,
        legacy_beta: bool = False,
    ) -> None:
        self.state = State.OPEN
        self._f = EventFactory(number, beta)
        self.session_id = self._f.new_id("sess")
        self.settings = SessionSettings(model=model)
        self.record = SessionRecord(self.session_id, model, beta)
        self._streams, self._faults, self._chunk_ms = FaultStreams(rng), faults, script.chunk_ms
        self._script = Script(script)
        self._listener: SessionListener = listener or NullListener()
        self._schedule = Schedule()
        self._buffer_bytes = 0
        self._vad: ServerVad | None = None
        self._vad_item: str | None = None
        self._idle: Timer | None = None
        self._idle_from_ms = 0
        self._conversation = Conversation(self._f, self._script)
        self._active: ActiveResponse | None = None
        self._active_record: ResponseRecord | None = None
        options = session_options(faults(), SessionOptions(legacy_beta=legacy_beta))
        if beta and not options.legacy_beta:
            error, close = beta_refusal(self._f)
            self._push(now, Send(error))
            self._push(now, close)
            self._listener.session_ended("beta_api_shape_disabled")
            return
        self._push(now, Send(self._f.make("session.created", session=self._rendered())))
        self._reset_vad(now)
        max_s = options.max_duration_s
        self._push(now + max_s, Timer(lambda at: self._expire(at, max_s)))

    # -- the shell's interface ------------------------------------------------------------------

    def receive(self, message: str | bytes, now: float) -> None:
        if self.state is not State.OPEN:
            return
        client_event_id: str | None = None
        try:
            event = parse_client_event(message)
            if isinstance(event.get("event_id"), str):
                client_event_id = event["event_id"]
            kind = field_of(event, "type", str)
            handler = self._handlers().get(kind)
            if handler is None:
                raise BadEvent(
                    "invalid_value", f"Invalid value: '{kind[:100]}'. Unknown event.", "type"
                )
            handler(event, now)
        except BadEvent as bad:
            self._error(now, bad, client_event_id, "invalid_request_error")
        except Exception as exc:  # a bug of ours must cost one error event, never the session
            logger.exception("session %s: unexpected failure on a client event", self.session_id)
            message = f"The server had an error processing the event ({type(exc).__name__})."
            self._error(now, BadEvent("server_error", message), client_event_id, "server_error")

    def due(self, now: float) -> list[Output]:
        """Everything to send by ``now``, in order (timers that fall due fire on the way)."""
        out: list[Output] = []
        while self.state is State.OPEN and (due := self._schedule.pop_due(now)) is not None:
            at, queued = due
            if isinstance(queued, Timer):
                queued.fire(at)
                continue
            out.append(queued)
            self._account(queued, at)
        return out

    def next_deadline(self) -> float | None:
        return self._schedule.next_deadline() if self.state is State.OPEN else None

    def next_is_first_delta(self) -> bool:
        """Whether the next deadline sends a response's first delta (the shell times it finely)."""
        return self._schedule.next_is_first_delta()

    def sent(self, output: Output, now: float) -> None:
        if not (isinstance(output, Send) and output.first_delta and self.record.responses):
            return
        # The latest response, even if already finished: due() hands out a whole batch at once.
        record = self.record.responses[-1]
        if record.response_id == output.response_id and record.first_delta_at is None:
            record.first_delta_at = now
            self._listener.first_delta(now - record.created_at)

    def connection_closed(self, code: int | None) -> None:
        self.record.closed = True
        self.record.close_code = code
        self.state = State.CLOSED
        if self._active_record is not None and self._active_record.status == "in_progress":
            self._finish("abandoned")

    # -- client events ----------------------------------------------------------------------------

    def _handlers(self) -> dict[str, Callable[[dict[str, Any], float], None]]:
        return {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_event(self._conversation.create),
            "conversation.item.truncate": self._item_event(self._conversation.truncate),
            "conversation.item.delete": self._item_event(self._conversation.delete),
            "conversation.item.retrieve": self._item_event(self._conversation.retrieve),
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    def _session_update(self, event: dict[str, Any], now: float) -> None:
        session = field_of(event, "session", dict)
        if not self._f.beta:
            check_ga_shape(session)
        settings, problems = apply_update(self.settings, session)
        if problems:
            message = " ".join(message for _, message in problems)
            raise BadEvent("invalid_value", message, problems[0][0])
        self.settings = settings
        self._reset_vad(now)
        self._push(now, Send(self._f.make("session.updated", session=self._rendered())))

    def _append(self, event: dict[str, Any], now: float) -> None:
        try:
            audio = b64decode(field_of(event, "audio", str), validate=True)
        except binascii.Error:
            raise BadEvent("invalid_value", "'audio' is not valid base64.", "audio") from None
        self._buffer_bytes += len(audio)
        if self._vad is None:
            return
        for vad_event in self._vad.feed(audio):
            if isinstance(vad_event, SpeechStarted):
                self._speech_started(now, vad_event.audio_start_ms)
                continue
            item_id = self._vad_item or self._f.new_id("item")
            stopped = self._f.make(
                "input_audio_buffer.speech_stopped",
                audio_end_ms=vad_event.audio_end_ms,
                item_id=item_id,
            )
            self._push(now, Send(stopped))
            self._commit_buffer(now, item_id)
            if self._vad.settings.create_response and self._active is None:
                self._start_response(now)
            if self._active is None:
                self._arm_idle(now)

    def _speech_started(self, now: float, audio_start_ms: int) -> None:
        """Server VAD heard the caller: the event, no idle timeout while they speak, and a barge-in
        cancels the response in flight when ``interrupt_response`` is on (as OpenAI does)."""
        self._vad_item = self._f.new_id("item")
        started = self._f.make(
            "input_audio_buffer.speech_started",
            audio_start_ms=audio_start_ms,
            item_id=self._vad_item,
        )
        self._push(now, Send(started))
        self._disarm_idle()
        vad = self._vad
        if vad is not None and vad.settings.interrupt_response and self._active is not None:
            self._cancel(now, "turn_detected")

    def _commit(self, event: dict[str, Any], now: float) -> None:
        buffered_ms = self.settings.input_format.ms_of(self._buffer_bytes)
        if buffered_ms < MIN_COMMIT_MS:
            raise BadEvent(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS:.0f}ms of audio, but buffer only has {buffered_ms:.2f}ms "
                "of audio.",
            )
        self._commit_buffer(now, self._vad_item or self._f.new_id("item"))

    def _commit_buffer(self, now: float, item_id: str) -> None:
        self._buffer_bytes = 0
        self._vad_item = None
        committed = self._f.make(
            "input_audio_buffer.committed",
            previous_item_id=self._conversation.last_item,
            item_id=item_id,
        )
        self._push(now, Send(committed))
        self._script.user_input()
        self._push_all(now, self._conversation.add(self._f.user_audio_item(item_id)))

    def _clear(self, event: dict[str, Any], now: float) -> None:
        self._buffer_bytes = 0
        self._vad_item = None
        if self._vad is not None:
            self._vad.reset()
        self._push(now, Send(self._f.make("input_audio_buffer.cleared")))

    def _item_event(
        self, handle: Callable[[dict[str, Any]], list[Event]]
    ) -> Callable[[dict[str, Any], float], None]:
        """A conversation.item.* handler: the conversation answers, the events go out now."""
        return lambda event, now: self._push_all(now, handle(event))

    def _response_create(self, event: dict[str, Any], now: float) -> None:
        if self._active is not None:
            raise BadEvent(
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress: "
                f"{self._active.response_id}.",
            )
        self._start_response(now)

    def _response_cancel(self, event: dict[str, Any], now: float) -> None:
        if self._active is None:
            raise BadEvent("response_cancel_not_active", "Cancellation failed: no active response.")
        self._cancel(now, "client_cancelled")

    # -- responses --------------------------------------------------------------------------------

    def _start_response(self, now: float) -> None:
        self._disarm_idle()
        plan = draw_response_plan(self._faults(), self._streams)
        f = self._f
        if plan.keeps_reply:
            reply = self._script.next_reply(self.settings.tool_names)
        else:
            reply = Reply(ReplyKind.ANSWER)  # refused before the script moves on
        self._active = open_response(f, reply, self._conversation.conversation_id, now)
        rid = self._active.response_id
        self._conversation.assistant_item(self._active.item, reply.audio_ms)
        reply_name = reply.kind.value if plan.keeps_reply else "none"
        self._active_record = ResponseRecord(rid, reply_name, plan.fired, plan.latency_ms, now)
        self.record.responses.append(self._active_record)
        for kind in plan.fired:
            self._listener.fault_fired(kind)
        timeline = build_timeline(f, self._active, reply, plan, self.settings, self._chunk_ms)
        self._active.playback_end = now + playback_end_offset(timeline, reply, self._chunk_ms)
        for offset, output in timeline:
            self._push(now + offset, output)

    def _cancel(self, now: float, reason: str) -> None:
        """The active response ends now: what it still had to send is withdrawn."""
        active = self._active
        assert active is not None
        self._schedule.withdraw(active.response_id)
        done = cancelled_done(self._f, active, self.settings, reason)
        self._push(now, Send(done, active.response_id, ends_response=True))
        active.playback_end = now

    def _account(self, output: Output, at: float) -> None:
        if isinstance(output, Close | Reset):
            self.state = State.CLOSED
            self._schedule.clear()
            if output.response_id is not None:
                self._finish("dropped")
            return
        if output.event.get("type") == "error":
            self.record.errors_sent += 1
        if output.ends_response:
            response = output.event.get("response", {})
            playback_end = self._active.playback_end if self._active else at
            self._finish(str(response.get("status", "completed")))
            self._arm_idle(max(at, playback_end))

    def _finish(self, status: str) -> None:
        if self._active_record is not None:
            self._active_record.status = status
            self._listener.response_finished(status)
        self._active = None
        self._active_record = None

    # -- the session's own deadlines --------------------------------------------------------------

    def _arm_idle(self, start: float) -> None:
        """``idle_timeout_ms`` counts from ``start`` (the end of the last response's playback)."""
        self._disarm_idle()
        vad = self._vad
        if vad is None or vad.settings.idle_timeout_ms is None:
            return
        self._idle_from_ms = vad.position_ms
        self._idle = Timer(self._idle_timeout)
        self._push(start + vad.settings.idle_timeout_ms / 1000, self._idle)

    def _disarm_idle(self) -> None:
        if self._idle is not None:
            self._idle.live = False
            self._idle = None

    def _idle_timeout(self, now: float) -> None:
        """No speech for ``idle_timeout_ms``: OpenAI commits the silence and answers it."""
        self._idle = None
        vad = self._vad
        if vad is None or vad.speaking or self._active is not None:
            return
        item_id = self._f.new_id("item")
        # The silent span since the playback ended, on the audio's own timeline: the caller's
        # line streams in real time, so it is the last idle_timeout_ms of audio at most.
        idle_ms = vad.settings.idle_timeout_ms or 0
        triggered = self._f.make(
            "input_audio_buffer.timeout_triggered",
            audio_start_ms=max(self._idle_from_ms, vad.position_ms - idle_ms),
            audio_end_ms=vad.position_ms,
            item_id=item_id,
        )
        self._push(now, Send(triggered))
        self._commit_buffer(now, item_id)
        if vad.settings.create_response:
            self._start_response(now)

    def _expire(self, now: float, max_s: float) -> None:
        """The session's maximum duration: OpenAI's ``session_expired`` error, then close 1001."""
        error, close = session_expired(self._f, max_s)
        self._push(now, Send(error))
        self._push(now, close)
        self._listener.session_ended("session_expired")

    # -- helpers ----------------------------------------------------------------------------------

    def _push(self, at: float, queued: Queued) -> None:
        self._schedule.push(at, queued)

    def _push_all(self, at: float, events: list[Event]) -> None:
        for event in events:
            self._push(at, Send(event))

    def _error(self, now: float, bad: BadEvent, client_event_id: str | None, kind: str) -> None:
        error = self._f.error(
            bad.code, bad.message, error_type=kind, param=bad.param, client_event_id=client_event_id
        )
        self._push(now, Send(error))

    def _rendered(self) -> Event:
        return render(self.settings, self.session_id, self._f.beta)

    def _reset_vad(self, now: float) -> None:
        vad = self.settings.vad
        self._vad = ServerVad(vad, self.settings.input_format) if vad is not None else None
        if self._active is None:
            self._arm_idle(now)


__all__ = ["BadEvent", "RealtimeSession", "State"]
