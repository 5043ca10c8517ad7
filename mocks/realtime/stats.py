"""Ground truth the generator is checked against: per session, which faults fired on each
response, the latency the upstream injected, and the time it measured from receiving
``response.create`` to sending the first delta. Served by ``GET /admin/stats``.

``SessionListener`` is how a session reports as it goes (the metrics implement it), so the pure
state machine never imports Prometheus."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Protocol

MAX_SESSIONS_KEPT = 10_000  # a long soak must not grow the stats without bound


class SessionListener(Protocol):
    def fault_fired(self, kind: str) -> None: ...
    def response_finished(self, status: str) -> None: ...
    def first_delta(self, seconds: float) -> None: ...
    def session_ended(self, reason: str) -> None: ...


class NullListener:
    def fault_fired(self, kind: str) -> None:
        pass

    def response_finished(self, status: str) -> None:
        pass

    def first_delta(self, seconds: float) -> None:
        pass

    def session_ended(self, reason: str) -> None:
        pass


@dataclass
class ResponseRecord:
    response_id: str
    reply: str
    faults: tuple[str, ...]
    injected_latency_ms: float
    created_at: float
    first_delta_at: float | None = None
    status: str = "in_progress"

    def to_document(self) -> dict[str, Any]:
        measured = None
        if self.first_delta_at is not None:
            measured = round((self.first_delta_at - self.created_at) * 1000, 3)
        return {
            "response_id": self.response_id,
            "reply": self.reply,
            "faults": list(self.faults),
            "injected_latency_ms": round(self.injected_latency_ms, 3),
            "create_to_first_delta_ms": measured,
            "status": self.status,
        }


@dataclass
class SessionRecord:
    session_id: str
    model: str
    beta: bool
    responses: list[ResponseRecord] = field(default_factory=list)
    errors_sent: int = 0
    closed: bool = False
    close_code: int | None = None

    def to_document(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "model": self.model,
            "protocol": "beta" if self.beta else "ga",
            "responses": [r.to_document() for r in self.responses],
            "errors_sent": self.errors_sent,
            "closed": self.closed,
            "close_code": self.close_code,
        }


@dataclass
class HandshakeRecord:
    attempt: int
    outcome: str  # "accepted", "handshake_429", "session_cap", "unauthorized"
    session_id: str | None = None

    def to_document(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "outcome": self.outcome, "session_id": self.session_id}


class Stats:
    def __init__(self) -> None:
        self.sessions: deque[SessionRecord] = deque(maxlen=MAX_SESSIONS_KEPT)
        self.handshakes: deque[HandshakeRecord] = deque(maxlen=MAX_SESSIONS_KEPT)
        self.rejections: Counter[str] = Counter()

    def to_document(self) -> dict[str, Any]:
        fired: Counter[str] = Counter()
        for session in self.sessions:
            for response in session.responses:
                fired.update(response.faults)
        return {
            "sessions": [s.to_document() for s in self.sessions],
            "handshakes": [h.to_document() for h in self.handshakes],
            "rejections": dict(self.rejections),
            "faults_fired": dict(fired),
        }
