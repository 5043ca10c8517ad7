"""The client side of an OpenAI-Realtime-compatible upstream, spoken directly (GA event shapes).

After `session.created` the client sends `session.update` (audio/pcm 24 kHz both ways,
turn_detection null: the caller's turns end by `input_audio_buffer.commit` — or, with `vad`,
OpenAI's server VAD, the caller then streaming silence while it listens) and a `response.create`,
which makes the assistant greet. A turn is `input_audio_buffer.append`
messages (20 ms of base64 PCM16 each, built once per workload), then `commit` and
`response.create`; the answer's audio is `response.output_audio.delta` (`response.audio.delta` in
the beta shape) and it ends at `response.done`.

Turn latency is voice-to-voice, from the caller's last voiced frame; the answer is the first
response created after it (generator/protocols/answers.py), so a response still under way then is
read through, not counted. Where the upstream's server VAD runs it shows
`input_audio_buffer.speech_stopped`, the end-of-turn delay's end; a barge-in is over at a
`response.done` with status `cancelled` or `output_audio_buffer.cleared`. With greeting mode
`none` no greeting is asked for. When the session declares tools, a response may be a function call
(`response.function_call_arguments.done`): the client answers with a `function_call_output` item
and a new `response.create`, and reads on to the spoken answer.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from generator.audio import PCM_FRAME_BYTES, PCM_RATE, split_frames
from generator.protocols.answers import OTHER, AnswerWatch, Kind, Note
from generator.protocols.base import (
    ClientSettings,
    Deadline,
    GreetingMode,
    ResponseTiming,
    TurnEnd,
    b64_size,
    parse_event,
    receive,
    send,
)
from generator.protocols.errors import GreetingTimeout, ProtocolViolation, ServerError
from generator.protocols.listening import ListeningClient
from generator.protocols.transport import with_bearer_from_env

PCM_BYTES_PER_S: Final = PCM_RATE * 2
AUDIO_DELTAS: Final = frozenset({"response.output_audio.delta", "response.audio.delta"})
COMMIT: Final = json.dumps({"type": "input_audio_buffer.commit"})
RESPONSE_CREATE: Final = json.dumps({"type": "response.create"})
_APPEND_PREFIX: Final = '{"type":"input_audio_buffer.append","audio":"'
SERVER_VAD: Final = {"type": "server_vad", "create_response": True, "interrupt_response": True}
SILENCE: Final = _APPEND_PREFIX + base64.b64encode(bytes(PCM_FRAME_BYTES)).decode() + '"}'
INSTRUCTIONS: Final = "You are the phone assistant of a dental practice. Be brief."

TOOLS: Final[list[dict[str, Any]]] = [
    {
        "type": "function",
        "name": "check_availability",
        "description": "Free appointment slots on a date for a service.",
        "parameters": {
            "type": "object",
            "properties": {"date": {"type": "string"}, "service": {"type": "string"}},
            "required": ["date"],
        },
    },
    {
        "type": "function",
        "name": "book_appointment",
        "description": "Book an appointment for a caller.",
        "parameters": {
            "type": "object",
            "properties": {
                "customer_phone": {"type": "string"},
                "date": {"type": "string"},
                "time": {"type": "string"},
            },
            "required": ["customer_phone", "date", "time"],
        },
    },
]


def encode_realtime(pcm: bytes) -> list[str]:
    """Canonical audio as ready-to-send `input_audio_buffer.append` messages, 20 ms each."""
    return [
        _APPEND_PREFIX + base64.b64encode(frame).decode("ascii") + '"}'
        for frame in split_frames(pcm, PCM_FRAME_BYTES)
    ]


def realtime_url(url: str, model: str) -> str:
    """The URL with `model=` added unless it already names one."""
    parts = urlsplit(url)
    if "model=" in parts.query:
        return url
    query = "&".join(q for q in (parts.query, urlencode({"model": model})) if q)
    return urlunsplit(parts._replace(query=query))


def session_update(tools: bool, vad: bool = False) -> str:
    """The session as the caller wants it; ``vad``: the upstream's server VAD ends the turns
    (OpenAI's defaults) and cuts its response short when the caller barges in."""
    turn_detection = SERVER_VAD if vad else None
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": INSTRUCTIONS,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": PCM_RATE},
                "turn_detection": turn_detection,
            },
            "output": {"format": {"type": "audio/pcm", "rate": PCM_RATE}},
        },
    }
    if tools:
        session["tools"] = TOOLS
        session["tool_choice"] = "auto"
    return json.dumps({"type": "session.update", "session": session})


def tool_result(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """What the caller's side answers to a function call (canned, like a test double's)."""
    if name == "check_availability":
        return {"date": arguments.get("date"), "available": True, "slots": ["10:00", "14:30"]}
    if name == "book_appointment":
        return {"booked": True, "confirmation": "CB-0001", "time": arguments.get("time")}
    return {"ok": True}


class RealtimeClient(ListeningClient):
    """One call straight to a Realtime upstream."""

    protocol = "realtime"

    def __init__(
        self,
        settings: ClientSettings,
        rng: random.Random,
        *,
        model: str = "gpt-realtime",
        tools: bool = False,
        vad: bool = False,
    ) -> None:
        super().__init__(
            settings, realtime_url(settings.url, model), server_vad=vad, silence=SILENCE
        )
        self.tools = tools
        self._calls: list[tuple[str, str, str]] = []
        del rng  # nothing to draw: the upstream names the session

    async def connect(self) -> float:
        return await self._open(with_bearer_from_env(self.settings.headers))

    async def wait_greeting(self, mode: GreetingMode) -> ResponseTiming | None:
        ws = self.ws
        deadline = Deadline(self._clock, self.settings.greeting_timeout_s, GreetingTimeout)
        while True:  # the upstream speaks first with `session.created`
            message, _at = await receive(ws, deadline)
            if isinstance(message, str):
                event = parse_event(message)
                if event.get("type") == "session.created":
                    break
                _raise_if_error(event)
        await send(ws, session_update(self.tools, self.server_vad))
        if mode == "none":  # an upstream never greets unasked: the caller speaks first
            return None
        await send(ws, RESPONSE_CREATE)
        return await self._hear_greeting(mode, deadline)

    async def end_utterance(self) -> TurnEnd:
        if not self.server_vad:  # else the upstream hears the turn end in the audio
            await send(self.ws, COMMIT)
            await send(self.ws, RESPONSE_CREATE)
        return TurnEnd(self._voiced_at, self._clock())

    async def hangup(self) -> None:
        await self.close()

    def classify(self, message: str | bytes) -> Note:
        if isinstance(message, bytes):
            raise ProtocolViolation("a binary frame from a Realtime upstream")
        event = parse_event(message)
        kind = event.get("type")
        if kind in AUDIO_DELTAS:
            seconds = b64_size(str(event.get("delta", ""))) / PCM_BYTES_PER_S
            rid = event.get("response_id")
            return Note(Kind.AUDIO, seconds, response_id=None if rid is None else str(rid))
        if kind == "response.created":
            return Note(Kind.STARTED, response_id=_response_id(event))
        if kind == "response.function_call_arguments.done":
            self._calls.append(
                (str(event.get("call_id")), str(event.get("name")), str(event.get("arguments")))
            )
            return Note(Kind.TOOL)
        if kind == "response.done":
            _raise_if_failed(event)
            response = event.get("response")
            status = response.get("status") if isinstance(response, dict) else None
            return Note(
                Kind.DONE, status=str(status or "completed"), response_id=_response_id(event)
            )
        if kind == "output_audio_buffer.cleared":
            return Note(Kind.CLEARED)
        if kind == "input_audio_buffer.speech_stopped":
            return Note(Kind.SPEECH_STOPPED)
        _raise_if_error(event)
        return OTHER

    async def after_done(self, note: Note, watch: AnswerWatch) -> bool:
        calls, self._calls = self._calls, []
        if calls:
            await self._answer_calls(calls)
            return True
        if note.status == "cancelled":
            return True  # an answer cut short before its audio; another may follow
        raise ProtocolViolation("a response with neither audio nor a function call")

    async def _answer_calls(self, calls: list[tuple[str, str, str]]) -> None:
        for call_id, name, raw_arguments in calls:
            try:
                arguments = json.loads(raw_arguments)
            except ValueError:
                raise ProtocolViolation(f"arguments of {name} are not JSON") from None
            output = tool_result(name, arguments if isinstance(arguments, dict) else {})
            item = {
                "type": "function_call_output",
                "call_id": call_id,
                "output": json.dumps(output),
            }
            await send(self.ws, json.dumps({"type": "conversation.item.create", "item": item}))
        await send(self.ws, RESPONSE_CREATE)


def _response_id(event: dict[str, Any]) -> str | None:
    response = event.get("response")
    rid = response.get("id") if isinstance(response, dict) else None
    return None if rid is None else str(rid)


def _raise_if_error(event: dict[str, Any]) -> None:
    if event.get("type") == "error":
        error = event.get("error")
        detail = error if isinstance(error, dict) else {}
        code = detail.get("code") or detail.get("type") or "unknown"
        raise ServerError(str(code), str(detail.get("message") or ""))


def _raise_if_failed(event: dict[str, Any]) -> None:
    response = event.get("response")
    if not isinstance(response, dict) or response.get("status") != "failed":
        return
    details = response.get("status_details")
    error = details.get("error") if isinstance(details, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    raise ServerError(str(code or "response_failed"), "the upstream's response failed")


__all__ = ["TOOLS", "RealtimeClient", "encode_realtime", "realtime_url", "session_update"]
