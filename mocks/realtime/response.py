"""One response as a timeline: every server event it sends, each at an offset (seconds) from the
moment the response was asked for. The healthy response follows the reply the script chose:
``response.created``, then ``rate_limits.updated`` (OpenAI sends it at a response's start), then
the audio deltas paced at real time (one chunk every chunk_ms) or the function call, then the
``done`` events. Each fault drawn for the response then reshapes it (its own file in ``faults/``
says how: a latency delays it, a drop cuts it, slow audio stretches it, a stall or a rate limit
replaces it).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

from mocks.realtime.events import Event, EventFactory, rate_limits, usage
from mocks.realtime.faults.base import ShapeContext
from mocks.realtime.faults.plan import ResponsePlan
from mocks.realtime.outputs import AUDIO_DELTAS, Send, Timeline, kind_of
from mocks.realtime.script import Reply, ReplyKind
from mocks.realtime.session_config import SessionSettings
from mocks.realtime.speech import speech

TOKENS_PER_AUDIO_SECOND = 10


@dataclass
class ActiveResponse:
    """What the session needs to know about the response in flight (to cancel it)."""

    response_id: str
    item: dict[str, Any]
    conversation_id: str
    playback_end: float = 0.0  # when the caller will have heard the last of it (session clock)


def open_response(
    f: EventFactory, reply: Reply, conversation_id: str, playback_end: float
) -> ActiveResponse:
    """A new response and its output item (a message, or the function call the script chose)."""
    rid, item_id = f.new_id("resp"), f.new_id("item")
    if reply.kind is ReplyKind.FUNCTION_CALL:
        call_id = f.new_id("call")
        item = f.function_call_item(item_id, "in_progress", call_id, reply.function_name, "")
    else:
        item = f.assistant_item(item_id, "in_progress", None, done=False)
    return ActiveResponse(rid, item, conversation_id, playback_end)


def cancelled_done(
    f: EventFactory, active: ActiveResponse, settings: SessionSettings, reason: str
) -> dict[str, Any]:
    """The ``response.done`` of a cancelled response (``client_cancelled``/``turn_detected``)."""
    details = {"type": "cancelled", "reason": reason}
    item = dict(active.item, status="incomplete")
    response = response_object(
        active.response_id, active.conversation_id, settings, "cancelled", [item], details
    )
    return f.make("response.done", response=response)


def response_object(
    response_id: str,
    conversation_id: str,
    settings: SessionSettings,
    status: str,
    output: list[dict[str, Any]],
    status_details: dict[str, Any] | None = None,
    tokens: tuple[int, int] | None = None,
) -> dict[str, Any]:
    fmt = settings.output_format
    fmt_doc: dict[str, Any] = {"type": fmt.value}
    if fmt.rate == 24000:
        fmt_doc["rate"] = 24000
    return {
        "id": response_id,
        "object": "realtime.response",
        "conversation_id": conversation_id,
        "status": status,
        "status_details": status_details,
        "output": output,
        "output_modalities": ["audio"],
        "audio": {"output": {"format": fmt_doc, "voice": settings.voice}},
        "max_output_tokens": "inf",
        "metadata": None,
        "usage": usage(*tokens) if tokens is not None else None,
    }


def build_timeline(
    f: EventFactory,
    active: ActiveResponse,
    reply: Reply,
    plan: ResponsePlan,
    settings: SessionSettings,
    chunk_ms: int,
) -> Timeline:
    """Every output of the response, at its offset from the response's start: the healthy
    response (only its start when an exclusive fault replaces it), reshaped by each effect."""
    rid = active.response_id
    # rate_limits.updated comes at the start of a response, with its tokens reserved (OpenAI).
    limits = f.make("rate_limits.updated", rate_limits=rate_limits(4999, 399000))
    timeline: Timeline = [
        (0.0, Send(f.make("response.created", response=_in_progress(active, settings)), rid)),
        (0.0, Send(limits, rid)),
    ]
    if not plan.exclusive:
        timeline += _healthy(f, active, reply, settings, chunk_ms)

    def done(status: str, details: dict[str, Any] | None, tokens: tuple[int, int]) -> Event:
        response = response_object(
            rid, active.conversation_id, settings, status, [], details, tokens
        )
        return f.make("response.done", response=response)

    ctx = ShapeContext(f, rid, done)
    for effect in plan.effects:
        timeline = effect.shape(timeline, ctx)
    return timeline


def _healthy(
    f: EventFactory, active: ActiveResponse, reply: Reply, settings: SessionSettings, chunk_ms: int
) -> Timeline:
    rid, item = active.response_id, active.item
    added = {"response_id": rid, "output_index": 0, "item": item}
    timeline: Timeline = [(0.0, Send(f.make("response.output_item.added", **added), rid))]
    created = "conversation.item.created" if f.beta else "conversation.item.added"
    timeline.append((0.0, Send(f.make(created, previous_item_id=None, item=item), rid)))
    if reply.kind is ReplyKind.FUNCTION_CALL:
        body, end = _function_call(f, active, reply)
        tokens = (40, 20)
    else:
        body, end = _audio(f, active, reply, settings, chunk_ms)
        tokens = (40, math.ceil(reply.audio_ms / 1000 * TOKENS_PER_AUDIO_SECOND))
    timeline += body
    done_item = dict(item, status="completed")
    if reply.kind is ReplyKind.FUNCTION_CALL:
        done_item["arguments"] = reply.arguments
    else:
        done_item["content"] = [{"type": f.audio_part_type(), "transcript": reply.transcript}]
    ids = {"response_id": rid, "output_index": 0}
    timeline.append((end, Send(f.make("response.output_item.done", **ids, item=done_item), rid)))
    if f.applies("conversation.item.done"):
        timeline.append((end, Send(f.make("conversation.item.done", item=done_item), rid)))
    response = response_object(
        rid, active.conversation_id, settings, "completed", [done_item], None, tokens
    )
    done = f.make("response.done", response=response)
    timeline.append((end, Send(done, rid, ends_response=True)))
    return timeline


def playback_end_offset(timeline: Timeline, reply: Reply, chunk_ms: int) -> float:
    """When, from the response's start, a caller playing its audio in real time has heard it all
    (the idle timeout counts from there); without audio, when its last event goes out."""
    audio = [at for at, out in timeline if kind_of(out) in AUDIO_DELTAS]
    if not audio:
        return max((at for at, _ in timeline), default=0.0)
    first, last = audio[0], audio[-1]
    return first + max(reply.audio_ms / 1000, last - first + chunk_ms / 1000)


def _in_progress(active: ActiveResponse, settings: SessionSettings) -> dict[str, Any]:
    return response_object(active.response_id, active.conversation_id, settings, "in_progress", [])


def _function_call(f: EventFactory, active: ActiveResponse, reply: Reply) -> tuple[Timeline, float]:
    item = active.item
    common = {
        "response_id": active.response_id,
        "item_id": item["id"],
        "output_index": 0,
        "call_id": item["call_id"],
    }
    delta = f.make("response.function_call_arguments.delta", **common, delta=reply.arguments)
    done = f.make(
        "response.function_call_arguments.done",
        **common,
        name=reply.function_name,
        arguments=reply.arguments,
    )
    rid = active.response_id
    return [(0.0, Send(delta, rid, first_delta=True)), (0.0, Send(done, rid))], 0.0


def _audio(
    f: EventFactory,
    active: ActiveResponse,
    reply: Reply,
    settings: SessionSettings,
    chunk_ms: int,
) -> tuple[Timeline, float]:
    rid = active.response_id
    fmt = settings.output_format
    common = {
        "response_id": rid,
        "item_id": active.item["id"],
        "output_index": 0,
        "content_index": 0,
    }
    part = {"type": "audio", "transcript": ""}  # content parts say "audio" in both protocols
    added = f.make("response.content_part.added", **common, part=part)
    timeline: Timeline = [(0.0, Send(added, rid))]
    audio = speech(fmt, reply.audio_ms, 0 if reply.kind is ReplyKind.GREETING else 1)
    chunk = fmt.bytes_for_ms(chunk_ms)
    step = chunk_ms / 1000
    n = max(1, math.ceil(len(audio) / chunk))
    # Spread the transcript's words over the audio, as a model speaks them.
    words = reply.transcript.split(" ")
    words_at: dict[int, list[str]] = {}
    for j, word in enumerate(words):
        words_at.setdefault(j * n // len(words), []).append(word)
    for i in range(n):
        at = i * step
        payload = base64.b64encode(audio[i * chunk : (i + 1) * chunk]).decode("ascii")
        delta = f.make("response.output_audio.delta", **common, delta=payload)
        timeline.append((at, Send(delta, rid, first_delta=(i == 0))))
        if i in words_at:
            text = (" " if i else "") + " ".join(words_at[i])
            event = f.make("response.output_audio_transcript.delta", **common, delta=text)
            timeline.append((at, Send(event, rid)))
    end = (n - 1) * step
    transcript_done = f.make(
        "response.output_audio_transcript.done", **common, transcript=reply.transcript
    )
    part_done = f.make(
        "response.content_part.done", **common, part=dict(part, transcript=reply.transcript)
    )
    timeline += [
        (end, Send(f.make("response.output_audio.done", **common), rid)),
        (end, Send(transcript_done, rid)),
        (end, Send(part_done, rid)),
    ]
    return timeline, end
