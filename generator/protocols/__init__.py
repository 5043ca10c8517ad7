"""The client side of each call protocol, behind one interface (base.CallClient).

- native.py   the mock backend's JSON protocol (docs/protocol.md), PCM16 24 kHz
- twilio.py   a Twilio Media Stream (mu-law 8 kHz) to the backend's `/media-stream`
- realtime.py an OpenAI-Realtime-compatible upstream, spoken directly
- pacing.py   real-time sending on an absolute schedule; errors.py the failure taxonomy

`make_client` builds the client of a protocol; `encode_audio` turns canonical audio into that
protocol's pre-encoded frames (done once per workload, not per frame).
"""

from __future__ import annotations

import random
from typing import Final, Literal

from generator.protocols.base import CallClient, ClientSettings, Frames
from generator.protocols.native import NativeClient, encode_native
from generator.protocols.realtime import RealtimeClient, encode_realtime
from generator.protocols.twilio import TwilioClient, encode_twilio

ProtocolName = Literal["native", "twilio", "realtime"]
PROTOCOLS: Final[tuple[ProtocolName, ...]] = ("native", "twilio", "realtime")


def encode_audio(protocol: ProtocolName, pcm: bytes) -> Frames:
    """Canonical PCM16 24 kHz audio as the protocol's ready-to-send 20 ms frames."""
    if protocol == "native":
        return encode_native(pcm)
    if protocol == "twilio":
        return encode_twilio(pcm)
    return encode_realtime(pcm)


def make_client(
    protocol: ProtocolName,
    settings: ClientSettings,
    rng: random.Random,
    *,
    realtime_model: str = "gpt-realtime",
    realtime_tools: bool = False,
) -> CallClient:
    """A fresh client for one call."""
    if protocol == "native":
        return NativeClient(settings, rng)
    if protocol == "twilio":
        return TwilioClient(settings, rng)
    return RealtimeClient(settings, rng, model=realtime_model, tools=realtime_tools)


__all__ = [
    "PROTOCOLS",
    "CallClient",
    "ClientSettings",
    "ProtocolName",
    "encode_audio",
    "make_client",
]
