"""A session's settings (audio formats, server VAD, tools, voice) and the two ways to write them:
the GA shape (``session.audio.input.format = {"type": "audio/pcm", "rate": 24000}``) and the beta
shape (``session.input_audio_format = "pcm16"``). A GA session refuses what OpenAI's GA API
refuses (``check_ga_shape``): a ``session.update`` without ``session.type``, or with a field only
the beta had; past that, ``session.update`` is read leniently, and ``session.created``/``updated``
are written in the session's own protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mocks.realtime.client_events import BadEvent
from mocks.realtime.speech import FROM_BETA, AudioFormat

# Session fields of the beta shape that the GA session object does not have (GA moved them under
# session.audio, renamed them, or dropped them): OpenAI answers "Unknown parameter".
BETA_ONLY_FIELDS = (
    "modalities",
    "input_audio_format",
    "output_audio_format",
    "input_audio_transcription",
    "input_audio_noise_reduction",
    "turn_detection",
    "voice",
    "temperature",
    "max_response_output_tokens",
)


def check_ga_shape(session: dict[str, Any]) -> None:
    """BadEvent as OpenAI's GA API words it when a session object is not in the GA shape."""
    kind = session.get("type")
    if kind is None:
        raise BadEvent(
            "missing_required_parameter",
            "Missing required parameter: 'session.type'.",
            "session.type",
        )
    if kind != "realtime":
        message = f"Invalid value: '{str(kind)[:40]}'. This fake serves 'realtime' sessions only."
        raise BadEvent("invalid_value", message, "session.type")
    for name in BETA_ONLY_FIELDS:
        if name in session:
            message = f"Unknown parameter: 'session.{name}'."
            raise BadEvent("unknown_parameter", message, f"session.{name}")


# semantic_vad's eagerness bounds the wait for the end of a turn: OpenAI documents "max timeouts
# of 8s, 4s, and 2s" for low, medium and high (auto = medium). The fake has no model to judge a
# sentence complete, so it ends the turn at that bound: the worst case, and deterministic.
EAGERNESS_MAX_MS: dict[str, int] = {"low": 8000, "medium": 4000, "high": 2000, "auto": 4000}


@dataclass(frozen=True)
class VadSettings:
    """Turn detection as ``session.audio.input.turn_detection`` sets it (OpenAI's defaults)."""

    kind: str = "server_vad"  # or "semantic_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None
    eagerness: str = "auto"

    @property
    def end_of_turn_silence_ms(self) -> int:
        """The silence after which a turn ends: the setting, or semantic VAD's bound."""
        if self.kind == "semantic_vad":
            return EAGERNESS_MAX_MS[self.eagerness]
        return self.silence_duration_ms

    def to_document(self) -> dict[str, Any]:
        common = {
            "type": self.kind,
            "create_response": self.create_response,
            "interrupt_response": self.interrupt_response,
        }
        if self.kind == "semantic_vad":
            return {**common, "eagerness": self.eagerness}
        return {
            **common,
            "threshold": self.threshold,
            "prefix_padding_ms": self.prefix_padding_ms,
            "silence_duration_ms": self.silence_duration_ms,
            "idle_timeout_ms": self.idle_timeout_ms,
        }


@dataclass(frozen=True)
class SessionSettings:
    """What a session is set to; OpenAI's defaults (server VAD on, PCM16 both ways)."""

    model: str = "gpt-realtime"
    input_format: AudioFormat = AudioFormat.PCM16
    output_format: AudioFormat = AudioFormat.PCM16
    vad: VadSettings | None = field(default_factory=VadSettings)
    voice: str = "marin"
    instructions: str = ""
    tools: tuple[dict[str, Any], ...] = ()

    @property
    def tool_names(self) -> frozenset[str]:
        return frozenset(str(t.get("name")) for t in self.tools if isinstance(t, dict))


Problem = tuple[str, str]  # (param, message)


def _format(value: Any, param: str, problems: list[Problem]) -> AudioFormat | None:
    if isinstance(value, str) and value in FROM_BETA:
        return FROM_BETA[value]
    if isinstance(value, dict):
        try:
            fmt = AudioFormat(value.get("type"))
        except ValueError:
            fmt = None
        if fmt is not None:
            rate = value.get("rate", 24000 if fmt is AudioFormat.PCM16 else None)
            if fmt is AudioFormat.PCM16 and rate != 24000:
                problems.append((f"{param}.rate", f"Invalid value: {rate!r}. Supported: 24000."))
                return None
            return fmt
    problems.append((param, f"Invalid audio format: {value!r}."))
    return None


def _vad(value: Any, param: str, problems: list[Problem]) -> VadSettings | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in ("server_vad", "semantic_vad"):
        problems.append((param, f"Invalid turn detection: {value!r}."))
        return None
    vad = VadSettings(kind=str(value["type"]))
    try:
        idle = value.get("idle_timeout_ms")
        vad = replace(
            vad,
            threshold=float(value.get("threshold", vad.threshold)),
            prefix_padding_ms=int(value.get("prefix_padding_ms", vad.prefix_padding_ms)),
            silence_duration_ms=int(value.get("silence_duration_ms", vad.silence_duration_ms)),
            create_response=bool(value.get("create_response", vad.create_response)),
            interrupt_response=bool(value.get("interrupt_response", vad.interrupt_response)),
            idle_timeout_ms=None if idle is None else int(idle),
            eagerness=str(value.get("eagerness", vad.eagerness)),
        )
    except (TypeError, ValueError):
        problems.append((param, "turn_detection values must be numbers."))
        return None
    before = len(problems)
    if not 0.0 <= vad.threshold <= 1.0:
        problems.append((f"{param}.threshold", "threshold must be between 0.0 and 1.0."))
    if vad.prefix_padding_ms < 0 or vad.silence_duration_ms < 0:
        problems.append((param, "prefix_padding_ms and silence_duration_ms must not be negative."))
    if vad.eagerness not in EAGERNESS_MAX_MS:
        problems.append((f"{param}.eagerness", f"Invalid value: {vad.eagerness[:20]!r}."))
    if vad.idle_timeout_ms is not None and vad.kind != "server_vad":
        problems.append(
            (f"{param}.idle_timeout_ms", "Idle timeout is only supported for server_vad.")
        )
    if vad.idle_timeout_ms is not None and vad.idle_timeout_ms <= 0:
        problems.append((f"{param}.idle_timeout_ms", "idle_timeout_ms must be positive."))
    return vad if len(problems) == before else None


def apply_update(
    settings: SessionSettings, session: dict[str, Any]
) -> tuple[SessionSettings, list[Problem]]:
    """``settings`` updated by a ``session.update``'s session object; nothing changes on error."""
    problems: list[Problem] = []
    changes: dict[str, Any] = {}
    audio = session.get("audio") if isinstance(session.get("audio"), dict) else {}
    assert isinstance(audio, dict)
    audio_in = audio.get("input") if isinstance(audio.get("input"), dict) else {}
    audio_out = audio.get("output") if isinstance(audio.get("output"), dict) else {}
    assert isinstance(audio_in, dict)
    assert isinstance(audio_out, dict)
    sources = (
        ("input_format", audio_in, "format", "session.audio.input.format"),
        ("input_format", session, "input_audio_format", "session.input_audio_format"),
        ("output_format", audio_out, "format", "session.audio.output.format"),
        ("output_format", session, "output_audio_format", "session.output_audio_format"),
    )
    for name, where, key, param in sources:
        if key in where and (fmt := _format(where[key], param, problems)) is not None:
            changes[name] = fmt
    for where, param in ((audio_in, "session.audio.input"), (session, "session")):
        if "turn_detection" in where:
            vad = _vad(where["turn_detection"], f"{param}.turn_detection", problems)
            changes["vad"] = vad
    voice = audio_out.get("voice", session.get("voice"))
    if voice is not None:
        changes["voice"] = str(voice)
    if "instructions" in session:
        changes["instructions"] = str(session["instructions"])
    if "model" in session:
        changes["model"] = str(session["model"])
    if "tools" in session:
        tools = session["tools"]
        if not isinstance(tools, list) or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools
        ):
            problems.append(("session.tools", "Each tool needs a string 'name'."))
        else:
            changes["tools"] = tuple(tools)
    if problems:
        return settings, problems
    return replace(settings, **changes), []


def render(settings: SessionSettings, session_id: str, beta: bool) -> dict[str, Any]:
    """The session object of ``session.created``/``session.updated`` in the session's protocol."""
    vad = settings.vad.to_document() if settings.vad else None
    if beta:
        return {
            "id": session_id,
            "object": "realtime.session",
            "model": settings.model,
            "modalities": ["audio", "text"],
            "instructions": settings.instructions,
            "voice": settings.voice,
            "input_audio_format": settings.input_format.beta_name,
            "output_audio_format": settings.output_format.beta_name,
            "input_audio_transcription": None,
            "turn_detection": vad,
            "tools": list(settings.tools),
            "tool_choice": "auto",
            "temperature": 0.8,
            "max_response_output_tokens": "inf",
        }

    def fmt(f: AudioFormat) -> dict[str, Any]:
        return {"type": f.value, "rate": f.rate} if f is AudioFormat.PCM16 else {"type": f.value}

    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": settings.model,
        "output_modalities": ["audio"],
        "instructions": settings.instructions,
        "audio": {
            "input": {"format": fmt(settings.input_format), "turn_detection": vad},
            "output": {"format": fmt(settings.output_format), "voice": settings.voice},
        },
        "tools": list(settings.tools),
        "tool_choice": "auto",
        "max_output_tokens": "inf",
    }
