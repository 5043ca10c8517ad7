"""The faults of the fake Realtime upstream, one small class per file (Toxiproxy's ``toxics/``),
and ``FaultsConfig``, the document that switches them on: every section optional, absent = off.

    {"latency": {"distribution": "fixed", "ms": 300, "probability": 1.0},
     "handshake_429": {"probability": 0.1, "retry_after_s": 1},
     "session_cap": {"max_sessions": 20},
     "rate_limit": {"probability": 0.1}, "stall": {"probability": 0.1},
     "drop": {"probability": 0.1, "mode": "close_1011"},
     "slow_audio": {"probability": 0.1, "factor": 2.0},
     "session_max_duration": {"seconds": 30}, "legacy_beta": {}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from mocks.faults import load_file, validate
from mocks.realtime.faults.drop import Drop
from mocks.realtime.faults.handshake_429 import Handshake429
from mocks.realtime.faults.latency import (
    FixedLatency,
    Latency,
    LogNormalLatency,
    NormalLatency,
    UniformLatency,
)
from mocks.realtime.faults.legacy_beta import LegacyBeta
from mocks.realtime.faults.rate_limit import RateLimit
from mocks.realtime.faults.session_cap import SessionCap
from mocks.realtime.faults.session_max_duration import SessionMaxDuration
from mocks.realtime.faults.slow_audio import SlowAudio
from mocks.realtime.faults.stall import Stall

# The registry by name: the keys of the faults document, and the `kind` label of the metrics.
REGISTRY: dict[str, tuple[type[BaseModel], ...]] = {
    "latency": (FixedLatency, UniformLatency, NormalLatency, LogNormalLatency),
    "handshake_429": (Handshake429,),
    "session_cap": (SessionCap,),
    "rate_limit": (RateLimit,),
    "stall": (Stall,),
    "drop": (Drop,),
    "slow_audio": (SlowAudio,),
    "session_max_duration": (SessionMaxDuration,),
    "legacy_beta": (LegacyBeta,),
}


class FaultsConfig(BaseModel):
    """Which faults are on. Replaced as a whole by ``PUT /admin/faults``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency: Latency | None = None
    handshake_429: Handshake429 | None = None
    session_cap: SessionCap | None = None
    rate_limit: RateLimit | None = None
    stall: Stall | None = None
    drop: Drop | None = None
    slow_audio: SlowAudio | None = None
    session_max_duration: SessionMaxDuration | None = None
    legacy_beta: LegacyBeta | None = None

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def parse_faults(data: Any, where: str = "faults") -> FaultsConfig:
    """A FaultsConfig from a document; ConfigError lists every problem at once."""
    return validate(FaultsConfig, {} if data is None else data, where)


def load_faults(path: Path) -> FaultsConfig:
    """A FaultsConfig from a JSON or YAML file; ConfigError names the file and every problem."""
    return load_file(FaultsConfig, path)


__all__ = [
    "REGISTRY",
    "Drop",
    "FaultsConfig",
    "Handshake429",
    "LegacyBeta",
    "RateLimit",
    "SessionCap",
    "SessionMaxDuration",
    "SlowAudio",
    "Stall",
    "load_faults",
    "parse_faults",
]
