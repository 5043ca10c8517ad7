"""The client side of each call protocol, behind one interface (base.CallClient).

- native.py   the mock backend's JSON protocol (docs/protocol.md), PCM16 24 kHz
- twilio.py   a Twilio Media Stream (mu-law 8 kHz) to the backend's `/media-stream`;
  twilio_wire.py its payloads, URL and SIDs
- realtime.py an OpenAI-Realtime-compatible upstream, spoken directly
- pacing.py   real-time sending on an absolute schedule; errors.py the failure taxonomy
- playback.py Twilio's playback buffer and the assistant's turns heard on a Twilio line
- answers.py  which response answers a turn (native, Realtime), and the barge-in watch
- listening.py the call steps native and Realtime share on top of it (speak, hear, barge in)

`make_client` builds the client of a protocol; `encode_audio` turns canonical audio into that
protocol's pre-encoded frames (done once per workload, not per frame).
"""

from __future__ import annotations

import random
from typing import Final, Literal

from generator.audio import voiced_frames
from generator.protocols.base import CallClient, ClientSettings, Frames, Utterance
from generator.protocols.native import NativeClient, encode_native
from generator.protocols.realtime import RealtimeClient, encode_realtime
from generator.protocols.twilio import TwilioClient
from generator.protocols.twilio_wire import encode_twilio

ProtocolName = Literal["native", "twilio", "realtime"]
PROTOCOLS: Final[tuple[ProtocolName, ...]] = ("native", "twilio", "realtime")


def encode_audio(protocol: ProtocolName, pcm: bytes) -> Utterance:
    """Canonical PCM16 24 kHz audio as the protocol's ready-to-send 20 ms frames, with where
    its voice is (the turn ends, for latency, at its last voiced frame)."""
    frames: Frames
    if protocol == "native":
        frames = encode_native(pcm)
    elif protocol == "twilio":
        frames = encode_twilio(pcm)
    else:
        frames = encode_realtime(pcm)
    return Utterance.of(frames, voiced_frames(pcm))


def make_client(
    protocol: ProtocolName,
    settings: ClientSettings,
    rng: random.Random,
    *,
    realtime_model: str = "gpt-realtime",
    realtime_tools: bool = False,
    realtime_vad: bool = False,
) -> CallClient:
    """A fresh client for one call."""
    if protocol == "native":
        return NativeClient(settings, rng)
    if protocol == "twilio":
        return TwilioClient(settings, rng)
    return RealtimeClient(
        settings, rng, model=realtime_model, tools=realtime_tools, vad=realtime_vad
    )


__all__ = [
    "PROTOCOLS",
    "CallClient",
    "ClientSettings",
    "ProtocolName",
    "Utterance",
    "encode_audio",
    "make_client",
]
