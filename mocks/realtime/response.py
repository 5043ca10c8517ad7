"""One response as a timeline: every server event it sends, each at an offset (seconds) from the
moment the response was asked for, shaped by the reply the script chose and the faults drawn for
it. ``rate_limits.updated`` follows ``response.created`` (OpenAI sends it at a response's start).
Audio deltas are paced at real time (one chunk every chunk_ms, times the slow-audio factor),
after the injected latency; a drop cuts the timeline mid-response with a close or a reset.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

from mocks.realtime.events import EventFactory, rate_limits, usage
from mocks.realtime.faults.plan import ResponsePlan
from mocks.realtime.outputs import Close, Output, Reset, Send
from mocks.realtime.script import Reply, ReplyKind
from mocks.realtime.session_config import SessionSettings
from mocks.realtime.speech import speech

Timeline = list[tuple[float, Output]]
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
    """Every output of the response, at its offset from the response's start."""
    rid, item = active.response_id, active.item
    # rate_limits.updated comes at the start of a response, with its tokens reserved (OpenAI).
    remaining = (0, 0) if plan.rate_limited else (4999, 399000)
    timeline: Timeline = [
        (0.0, Send(f.make("response.created", response=_in_progress(active, settings)), rid)),
        (0.0, Send(f.make("rate_limits.updated", rate_limits=rate_limits(*remaining)), rid)),
    ]
    if plan.rate_limited:
        return timeline + _rate_limited(f, active, settings)
    if plan.stalled:
        return timeline
    added = {"response_id": rid, "output_index": 0, "item": item}
    timeline.append((0.0, Send(f.make("response.output_item.added", **added), rid)))
    created = "conversation.item.created" if f.beta else "conversation.item.added"
    timeline.append((0.0, Send(f.make(created, previous_item_id=None, item=item), rid)))
    start = plan.latency_ms / 1000
    if reply.kind is ReplyKind.FUNCTION_CALL:
        body, end = _function_call(f, active, reply, start)
        tokens = (40, 20)
    else:
        body, end = _audio(f, active, reply, settings, start, chunk_ms, plan.slow_factor)
        tokens = (40, math.ceil(reply.audio_ms / 1000 * TOKENS_PER_AUDIO_SECOND))
    if plan.drop is not None:
        return timeline + _cut(body, plan, rid)
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


def playback_end_offset(reply: Reply, plan: ResponsePlan, chunk_ms: int) -> float:
    """When, from the response's start, a caller playing its audio in real time has heard it all
    (the idle timeout counts from there)."""
    start = plan.latency_ms / 1000
    if plan.rate_limited or plan.stalled or reply.kind is ReplyKind.FUNCTION_CALL:
        return start
    n = max(1, math.ceil(reply.audio_ms / chunk_ms))
    last_delta = (n - 1) * chunk_ms * plan.slow_factor / 1000
    return start + max(reply.audio_ms / 1000, last_delta + chunk_ms / 1000)


def _in_progress(active: ActiveResponse, settings: SessionSettings) -> dict[str, Any]:
    return response_object(active.response_id, active.conversation_id, settings, "in_progress", [])


def _rate_limited(
    f: EventFactory, active: ActiveResponse, settings: SessionSettings
) -> list[tuple[float, Output]]:
    message = "Rate limit reached for requests. Please try again in 1s."
    error = f.error("rate_limit_exceeded", message, error_type="rate_limit_error")
    details = {
        "type": "failed",
        "error": {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": message},
    }
    failed = response_object(
        active.response_id, active.conversation_id, settings, "failed", [], details, (0, 0)
    )
    done = f.make("response.done", response=failed)
    return [(0.0, Send(error)), (0.0, Send(done, active.response_id, ends_response=True))]


def _function_call(
    f: EventFactory, active: ActiveResponse, reply: Reply, start: float
) -> tuple[Timeline, float]:
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
    return [(start, Send(delta, rid, first_delta=True)), (start, Send(done, rid))], start


def _audio(
    f: EventFactory,
    active: ActiveResponse,
    reply: Reply,
    settings: SessionSettings,
    start: float,
    chunk_ms: int,
    slow_factor: float,
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
    step = chunk_ms * slow_factor / 1000
    n = max(1, math.ceil(len(audio) / chunk))
    # Spread the transcript's words over the audio, as a model speaks them.
    words = reply.transcript.split(" ")
    words_at: dict[int, list[str]] = {}
    for j, word in enumerate(words):
        words_at.setdefault(j * n // len(words), []).append(word)
    for i in range(n):
        at = start + i * step
        payload = base64.b64encode(audio[i * chunk : (i + 1) * chunk]).decode("ascii")
        delta = f.make("response.output_audio.delta", **common, delta=payload)
        timeline.append((at, Send(delta, rid, first_delta=(i == 0))))
        if i in words_at:
            text = (" " if i else "") + " ".join(words_at[i])
            event = f.make("response.output_audio_transcript.delta", **common, delta=text)
            timeline.append((at, Send(event, rid)))
    end = start + (n - 1) * step
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


def _cut(body: Timeline, plan: ResponsePlan, response_id: str) -> Timeline:
    """The body up to the drop point (at least the first delta is sent), then the drop."""
    deltas = [i for i, (_, out) in enumerate(body) if _kind(out) in DELTAS]
    keep = max(1, math.ceil(plan.drop_at * len(deltas)))
    last = deltas[min(keep, len(deltas)) - 1]
    # The transcript delta that went out with the last audio delta goes too.
    if last + 1 < len(body) and _kind(body[last + 1][1]).endswith("transcript.delta"):
        last += 1
    drop: Output = (
        Close(1011, "upstream internal error", response_id)
        if plan.drop == "close_1011"
        else Reset(response_id)
    )
    return [*body[: last + 1], (body[last][0], drop)]


DELTAS = frozenset(
    {
        "response.output_audio.delta",
        "response.audio.delta",
        "response.function_call_arguments.delta",
    }
)


def _kind(out: Output) -> str:
    return str(out.event.get("type", "")) if isinstance(out, Send) else ""
