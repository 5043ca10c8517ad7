"""The sans-I/O Realtime session: client events in, timed server events out; no sockets, no clock.

The I/O shell feeds ``receive(message, now)`` with each frame and the time it arrived, sends what
``due(now)`` returns, sleeps until ``next_deadline()`` (or the next frame), and reports each send
back with ``sent(output, now)`` so the session can record when the first delta really left.
Tests drive it with made-up times and no event loop at all.
"""

from __future__ import annotations

import binascii
import enum
import heapq
import json
import logging
import random
from base64 import b64decode
from collections.abc import Callable
from typing import Any

from mocks.realtime.events import Event, EventFactory
from mocks.realtime.faults import FaultsConfig
from mocks.realtime.faults.plan import draw_response_plan
from mocks.realtime.outputs import Close, Output, Reset, Send
from mocks.realtime.response import ActiveResponse, build_timeline, response_object
from mocks.realtime.script import Reply, ReplyKind, Script, ScriptConfig
from mocks.realtime.session_config import SessionSettings, apply_update, render
from mocks.realtime.stats import NullListener, ResponseRecord, SessionListener, SessionRecord
from mocks.realtime.vad import ServerVad, SpeechStarted

MIN_COMMIT_MS = 100.0
logger = logging.getLogger(__name__)


class State(enum.IntEnum):
    OPEN = 1
    CLOSED = 2  # a close or reset was handed out: nothing more will be sent


class BadEvent(Exception):
    """A client event the session refuses; becomes an ``error`` event, never a crash."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def _field(event: dict[str, Any], name: str, kind: type, param: str | None = None) -> Any:
    value = event.get(name)
    if value is None:
        raise BadEvent(
            "missing_required_parameter", f"Missing required parameter: '{name}'.", param or name
        )
    if not isinstance(value, kind):
        raise BadEvent(
            "invalid_type", f"Invalid type for '{name}': expected {kind.__name__}.", param or name
        )
    return value


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
    ) -> None:
        self.state = State.OPEN
        self._f = EventFactory(number, beta)
        self.session_id = self._f.new_id("sess")
        self.settings = SessionSettings(model=model)
        self.record = SessionRecord(self.session_id, model, beta)
        self._rng, self._faults, self._chunk_ms = rng, faults, script.chunk_ms
        self._script = Script(script)
        self._listener: SessionListener = listener or NullListener()
        self._queue: list[tuple[float, int, Output]] = []
        self._seq = 0
        self._buffer_bytes = 0
        self._vad: ServerVad | None = None
        self._vad_item: str | None = None
        self._items: set[str] = set()
        self._last_item: str | None = None
        self._conversation_id = self._f.new_id("conv")
        self._active: ActiveResponse | None = None
        self._active_record: ResponseRecord | None = None
        self._push(now, Send(self._f.make("session.created", session=self._rendered())))
        self._reset_vad()

    # -- the shell's interface ------------------------------------------------------------------

    def receive(self, message: str | bytes, now: float) -> None:
        if self.state is not State.OPEN:
            return
        client_event_id: str | None = None
        try:
            if isinstance(message, bytes):
                raise BadEvent(
                    "invalid_message", "Binary frames are not supported; send JSON text."
                )
            try:
                event = json.loads(message)
            except (ValueError, RecursionError):
                raise BadEvent("invalid_json", "The message is not valid JSON.") from None
            if not isinstance(event, dict):
                raise BadEvent("invalid_json", "The message must be a JSON object.")
            if isinstance(event.get("event_id"), str):
                client_event_id = event["event_id"]
            kind = _field(event, "type", str)
            handler = self._handlers().get(kind)
            if handler is None:
                raise BadEvent(
                    "invalid_value", f"Invalid value: '{kind[:100]}'. Unknown event.", "type"
                )
            handler(event, now)
        except BadEvent as bad:
            self._error(now, bad.code, bad.message, bad.param, client_event_id)
        except Exception as exc:  # a bug of ours must cost one error event, never the session
            logger.exception("session %s: unexpected failure on a client event", self.session_id)
            message = f"The server had an error processing the event ({type(exc).__name__})."
            self._error(now, "server_error", message, None, client_event_id, "server_error")

    def due(self, now: float) -> list[Output]:
        """Everything to send by ``now``, in order."""
        out: list[Output] = []
        while self._queue and self._queue[0][0] <= now and self.state is State.OPEN:
            _, _, output = heapq.heappop(self._queue)
            out.append(output)
            self._account(output)
        return out

    def next_deadline(self) -> float | None:
        return self._queue[0][0] if self._queue and self.state is State.OPEN else None

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
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    def _session_update(self, event: dict[str, Any], now: float) -> None:
        session = _field(event, "session", dict)
        settings, problems = apply_update(self.settings, session)
        if problems:
            message = " ".join(message for _, message in problems)
            raise BadEvent("invalid_value", message, problems[0][0])
        self.settings = settings
        self._reset_vad()
        self._push(now, Send(self._f.make("session.updated", session=self._rendered())))

    def _append(self, event: dict[str, Any], now: float) -> None:
        try:
            audio = b64decode(_field(event, "audio", str), validate=True)
        except binascii.Error:
            raise BadEvent("invalid_value", "'audio' is not valid base64.", "audio") from None
        self._buffer_bytes += len(audio)
        if self._vad is None:
            return
        for vad_event in self._vad.feed(audio):
            if isinstance(vad_event, SpeechStarted):
                self._vad_item = self._f.new_id("item")
                started = self._f.make(
                    "input_audio_buffer.speech_started",
                    audio_start_ms=vad_event.audio_start_ms,
                    item_id=self._vad_item,
                )
                self._push(now, Send(started))
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
            "input_audio_buffer.committed", previous_item_id=self._last_item, item_id=item_id
        )
        self._push(now, Send(committed))
        self._script.user_input()
        self._add_item(now, self._f.user_audio_item(item_id))

    def _clear(self, event: dict[str, Any], now: float) -> None:
        self._buffer_bytes = 0
        self._vad_item = None
        if self._vad is not None:
            self._vad.reset()
        self._push(now, Send(self._f.make("input_audio_buffer.cleared")))

    def _item_create(self, event: dict[str, Any], now: float) -> None:
        item = dict(_field(event, "item", dict))
        kind = item.get("type")
        if kind == "function_call_output":
            _field(item, "call_id", str, "item.call_id")
            _field(item, "output", str, "item.output")
            self._script.tool_output()
        elif kind == "message":
            role = _field(item, "role", str, "item.role")
            if role not in ("user", "assistant", "system"):
                raise BadEvent("invalid_value", f"Invalid value: '{role[:50]}'.", "item.role")
            _field(item, "content", list, "item.content")
            if role == "user":
                self._script.user_input()
        elif kind != "function_call":
            raise BadEvent("invalid_value", f"Invalid item type: {kind!r}.", "item.type")
        item.setdefault("id", self._f.new_id("item"))
        item.update(object="realtime.item", status="completed")
        self._add_item(now, item)

    def _add_item(self, now: float, item: dict[str, Any]) -> None:
        previous, self._last_item = self._last_item, str(item["id"])
        self._items.add(self._last_item)
        f = self._f
        self._push(
            now, Send(f.make("conversation.item.created", previous_item_id=previous, item=item))
        )
        for name in ("conversation.item.added", "conversation.item.done"):
            if f.applies(name):
                self._push(now, Send(f.make(name, previous_item_id=previous, item=item)))

    def _truncate(self, event: dict[str, Any], now: float) -> None:
        item_id = _field(event, "item_id", str)
        content_index = _field(event, "content_index", int)
        audio_end_ms = _field(event, "audio_end_ms", int)
        if item_id not in self._items:
            raise BadEvent("item_not_found", f"Item with id '{item_id[:64]}' not found.", "item_id")
        truncated = self._f.make(
            "conversation.item.truncated",
            item_id=item_id,
            content_index=content_index,
            audio_end_ms=audio_end_ms,
        )
        self._push(now, Send(truncated))

    def _response_create(self, event: dict[str, Any], now: float) -> None:
        if self._active is not None:
            raise BadEvent(
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress: "
                f"{self._active.response_id}.",
            )
        self._start_response(now)

    def _response_cancel(self, event: dict[str, Any], now: float) -> None:
        active = self._active
        if active is None:
            raise BadEvent("response_cancel_not_active", "Cancellation failed: no active response.")
        self._queue = [e for e in self._queue if e[2].response_id != active.response_id]
        heapq.heapify(self._queue)
        details = {"type": "cancelled", "reason": "client_cancelled"}
        item = dict(active.item, status="incomplete")
        response = response_object(
            active.response_id, active.conversation_id, self.settings, "cancelled", [item], details
        )
        done = self._f.make("response.done", response=response)
        self._push(now, Send(done, active.response_id, ends_response=True))

    # -- responses --------------------------------------------------------------------------------

    def _start_response(self, now: float) -> None:
        plan = draw_response_plan(self._faults(), self._rng)
        f = self._f
        if plan.rate_limited:
            reply = Reply(ReplyKind.ANSWER)  # refused before the script moves on
        else:
            reply = self._script.next_reply(self.settings.tool_names)
        rid, item_id = f.new_id("resp"), f.new_id("item")
        if reply.kind is ReplyKind.FUNCTION_CALL:
            call_id = f.new_id("call")
            item = f.function_call_item(item_id, "in_progress", call_id, reply.function_name, "")
        else:
            item = f.assistant_item(item_id, "in_progress", None, done=False)
        self._items.add(item_id)
        self._active = ActiveResponse(rid, item, self._conversation_id)
        reply_name = "none" if plan.rate_limited else reply.kind.value
        self._active_record = ResponseRecord(rid, reply_name, plan.fired, plan.latency_ms, now)
        self.record.responses.append(self._active_record)
        for kind in plan.fired:
            self._listener.fault_fired(kind)
        for offset, output in build_timeline(
            f, self._active, reply, plan, self.settings, self._chunk_ms
        ):
            self._push(now + offset, output)

    def _account(self, output: Output) -> None:
        if isinstance(output, Close | Reset):
            self.state = State.CLOSED
            self._queue.clear()
            if output.response_id is not None:
                self._finish("dropped")
            return
        if output.event.get("type") == "error":
            self.record.errors_sent += 1
        if output.ends_response:
            response = output.event.get("response", {})
            self._finish(str(response.get("status", "completed")))

    def _finish(self, status: str) -> None:
        if self._active_record is not None:
            self._active_record.status = status
            self._listener.response_finished(status)
        self._active = None
        self._active_record = None

    # -- helpers ----------------------------------------------------------------------------------

    def _push(self, at: float, output: Output) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, output))

    def _error(
        self,
        now: float,
        code: str,
        message: str,
        param: str | None,
        client_event_id: str | None,
        error_type: str = "invalid_request_error",
    ) -> None:
        error = self._f.error(
            code, message, error_type=error_type, param=param, client_event_id=client_event_id
        )
        self._push(now, Send(error))

    def _rendered(self) -> Event:
        return render(self.settings, self.session_id, self._f.beta)

    def _reset_vad(self) -> None:
        vad = self.settings.vad
        self._vad = ServerVad(vad, self.settings.input_format) if vad is not None else None


__all__ = ["BadEvent", "RealtimeSession", "State"]
