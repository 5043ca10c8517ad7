"""How the backend speaks to its Realtime upstream: the GA shape (OpenAI's Realtime API since its
general availability: ``session.type = "realtime"``, ``session.audio.input/output``, no beta
header) or, with the ``upstream_api=beta`` knob, the beta shape OpenAI shut down in May 2026
(``OpenAI-Beta: realtime=v1``, ``input_audio_format`` strings, ``turn_detection`` and ``voice`` at
the session's top level) — the bug of the ``beta-shape-refused`` drill.

The events the backend reads are accepted under both names (``AUDIO_DELTAS``, ``TRANSCRIPT_DELTAS``)
so that the answer to a beta request is understood when an upstream still serves it.
"""

from __future__ import annotations

from typing import Any, Literal

AudioFormat = Literal["audio/pcm", "audio/pcmu"]
UpstreamApi = Literal["ga", "beta"]

INSTRUCTIONS = (
    "You are the receptionist of a small clinic. Greet the caller, check availability and book "
    "appointments with the tools. Be brief."
)
BETA_FORMATS: dict[AudioFormat, str] = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw"}
# GA name first; the beta name the same event had.
AUDIO_DELTAS = ("response.output_audio.delta", "response.audio.delta")
TRANSCRIPT_DELTAS = ("response.output_audio_transcript.delta", "response.audio_transcript.delta")
# Bytes of one millisecond of audio: mu-law 8 kHz, PCM16 24 kHz.
BYTES_PER_MS: dict[AudioFormat, int] = {"audio/pcmu": 8, "audio/pcm": 48}


def handshake_headers(api: UpstreamApi, api_key: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {api_key}"}
    if api == "beta":
        headers["OpenAI-Beta"] = "realtime=v1"
    return headers


def turn_detection(server_vad: bool, interrupt: bool) -> dict[str, Any] | None:
    """Server VAD (the upstream decides the end of the caller's turn and creates the response),
    or none (the backend commits the audio and asks for the response itself). ``interrupt``: the
    upstream cancels its response when the caller starts speaking (OpenAI's default)."""
    if not server_vad:
        return None
    return {"type": "server_vad", "create_response": True, "interrupt_response": interrupt}


def session_update(
    model: str,
    fmt: AudioFormat,
    server_vad: bool,
    tools: list[dict[str, Any]],
    *,
    api: UpstreamApi = "ga",
    interrupt: bool = True,
) -> dict[str, Any]:
    vad = turn_detection(server_vad, interrupt)
    if api == "beta":
        return {
            "type": "session.update",
            "session": {
                "modalities": ["audio", "text"],
                "instructions": INSTRUCTIONS,
                "voice": "alloy",
                "input_audio_format": BETA_FORMATS[fmt],
                "output_audio_format": BETA_FORMATS[fmt],
                "turn_detection": vad,
                "tools": tools,
                "tool_choice": "auto",
            },
        }
    audio_format: dict[str, Any] = {"type": fmt}
    if fmt == "audio/pcm":
        audio_format["rate"] = 24000
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "model": model,
            "output_modalities": ["audio"],
            "instructions": INSTRUCTIONS,
            "audio": {
                "input": {"format": audio_format, "turn_detection": vad},
                "output": {"format": audio_format, "voice": "marin"},
            },
            "tools": tools,
            "tool_choice": "auto",
        },
    }


def resume_item(transcript: str) -> dict[str, Any]:
    """What a new session is told of the conversation an expired one held (a GA system message:
    the Realtime API has no way to carry a conversation over to another session)."""
    text = "The call continues from an earlier session. What you said so far: " + (
        transcript.strip() or "(nothing yet)"
    )
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": text[-4000:]}],
        },
    }
