"""The faults of the fake Realtime upstream, one file per fault (Toxiproxy's ``toxics/``): each
holds its config, its seeded draw and its effect behind the interface of ``base.py``. ``REGISTRY``
names them: the keys of the faults document, the ``kind`` label of the metrics, and, within each
stage (handshake, session, response), the order of the draws. Adding a fault is one file, its
test, and its import and entry here. ``FaultsConfig`` is the document that switches them on:
every section optional, absent = off.

    {"latency": {"distribution": "fixed", "ms": 300, "probability": 1.0},
     "handshake_429": {"probability": 0.1, "retry_after_s": 1},
     "session_cap": {"max_sessions": 20},
     "rate_limit": {"probability": 0.1}, "stall": {"probability": 0.1},
     "drop": {"probability": 0.1, "mode": "close_1011"},
     "slow_audio": {"probability": 0.1, "factor": 2.0},
     "session_max_duration": {"seconds": 30}, "legacy_beta": {},
     "server_error": {"probability": 0.05},
     "max_output_tokens": {"probability": 0.1, "audio_ms": 1000}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, create_model

from mocks.faults import load_document, validate
from mocks.realtime.faults.base import Fault
from mocks.realtime.faults.drop import Drop
from mocks.realtime.faults.handshake_429 import Handshake429
from mocks.realtime.faults.latency import Latency
from mocks.realtime.faults.legacy_beta import LegacyBeta
from mocks.realtime.faults.max_output_tokens import MaxOutputTokens
from mocks.realtime.faults.rate_limit import RateLimit
from mocks.realtime.faults.server_error import ServerError
from mocks.realtime.faults.session_cap import SessionCap
from mocks.realtime.faults.session_max_duration import SessionMaxDuration
from mocks.realtime.faults.slow_audio import SlowAudio
from mocks.realtime.faults.stall import Stall

# One line per fault. Within a stage this is the draw order: keep it, or seeded runs change.
REGISTRY: dict[str, type[Fault]] = {
    fault.name: fault
    for fault in (
        Handshake429,
        SessionCap,
        RateLimit,
        Stall,
        Latency,
        Drop,
        SlowAudio,
        ServerError,
        SessionMaxDuration,
        LegacyBeta,
        MaxOutputTokens,
    )
}

F = TypeVar("F", bound=Fault)

# The document's schema, built from the registry: one optional section per fault.
_Document: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "faults",
    __config__=ConfigDict(frozen=True, extra="forbid"),
    **{name: ((fault.document_type or fault) | None, None) for name, fault in REGISTRY.items()},
)


@dataclass(frozen=True)
class FaultsConfig:
    """Which faults are on (their configs by name). Replaced as a whole by ``PUT /admin/faults``."""

    sections: Mapping[str, Fault] = field(default_factory=dict)

    def get(self, kind: type[F]) -> F | None:
        """The config of fault ``kind``, or None when it is off."""
        section = self.sections.get(kind.name)
        return section if isinstance(section, kind) else None

    def to_document(self) -> dict[str, Any]:
        return {
            name: section.model_dump(mode="json", exclude_none=True)
            for name, section in self.sections.items()
        }


def parse_faults(data: Any, where: str = "faults") -> FaultsConfig:
    """A FaultsConfig from a document; ConfigError lists every problem at once."""
    document = validate(_Document, {} if data is None else data, where)
    sections = {
        name: section for name in REGISTRY if isinstance(section := getattr(document, name), Fault)
    }
    return FaultsConfig(sections)


def load_faults(path: Path) -> FaultsConfig:
    """A FaultsConfig from a JSON or YAML file; ConfigError names the file and every problem."""
    data = load_document(path)
    return parse_faults(data, f"file {path}")


__all__ = [
    "REGISTRY",
    "Drop",
    "FaultsConfig",
    "Handshake429",
    "Latency",
    "LegacyBeta",
    "RateLimit",
    "SessionCap",
    "SessionMaxDuration",
    "SlowAudio",
    "Stall",
    "load_faults",
    "parse_faults",
]
