"""The upstream's Prometheus metrics, in a registry of its own (never the global one), so several
servers in one test process do not collide. Names are prefixed ``callbench_realtime_``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class RealtimeMetrics:
    """Counters and gauges of one server; also the sessions' ``SessionListener``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        prefix = "callbench_realtime_"
        self.sessions_active = Gauge(
            prefix + "sessions_active", "Sessions open now", registry=self.registry
        )
        self.sessions_total = Counter(
            prefix + "sessions", "Sessions accepted", registry=self.registry
        )
        self.responses_total = Counter(
            prefix + "responses",
            "Responses by final status",
            ["status"],
            registry=self.registry,
        )
        self.faults_total = Counter(
            prefix + "faults", "Faults fired by kind", ["kind"], registry=self.registry
        )
        self.rejections_total = Counter(
            prefix + "rejections",
            "Handshakes refused with HTTP 429, by reason (handshake_429, session_cap)",
            ["reason"],
            registry=self.registry,
        )
        self.unauthorized_total = Counter(
            prefix + "unauthorized",
            "Handshakes refused with HTTP 401 (no or wrong API key)",
            registry=self.registry,
        )
        self.session_ends_total = Counter(
            prefix + "session_ends",
            "Sessions the upstream itself ended, by reason (beta_api_shape_disabled: the beta "
            "shape refused, close 4000; session_expired: the maximum duration, close 1001)",
            ["reason"],
            registry=self.registry,
        )
        self.first_delta_seconds = Histogram(
            prefix + "first_delta_seconds",
            "Time from response.create to the first delta sent",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def fault_fired(self, kind: str) -> None:
        self.faults_total.labels(kind=kind).inc()

    def response_finished(self, status: str) -> None:
        self.responses_total.labels(status=status).inc()

    def first_delta(self, seconds: float) -> None:
        self.first_delta_seconds.observe(seconds)

    def session_ended(self, reason: str) -> None:
        self.session_ends_total.labels(reason=reason).inc()

    def rejected(self, reason: str) -> None:
        self.rejections_total.labels(reason=reason).inc()
        self.fault_fired(reason)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
