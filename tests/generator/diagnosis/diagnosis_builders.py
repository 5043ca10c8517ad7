"""Hand-built run evidence for the rule and verdict tests: a metrics store fed at chosen times
and monitor samples by phase."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from generator.diagnosis.finding import RunEvidence
from generator.metrics.store import MetricsStore
from generator.monitor.evidence import MonitorEvidence
from tests.support.clock import FakeClock

MB = 2**20


def store(
    ok: int = 20,
    failed: int = 0,
    errors: Iterable[tuple[dict[str, str], int]] = (),
    latencies: Iterable[tuple[float, float]] | None = None,
    seconds: int = 10,
) -> MetricsStore:
    """``ok``/``failed`` calls spread over ``seconds``; ``latencies`` (t, ms) of turn_latency
    (default: 400 ms every second, a healthy flat run)."""
    s = MetricsStore(clock=FakeClock())
    tags = {"protocol": "native", "workload": "calls"}
    for i in range(ok + failed):
        at = (i % seconds) + 0.5
        outcome = "succeeded" if i < ok else "failed"
        s.add_counter("calls_total", 1, {**tags, "outcome": outcome}, at=at)
        s.add_rate("call_success", i < ok, tags, at=at)
        s.add_counter("iterations", 1, {"workload": "calls"}, at=at)
    for error_tags, n in errors:
        s.add_counter("errors_total", n, {**tags, **error_tags}, at=1.0)
    if latencies is None:
        latencies = [(t + 0.5, 400.0) for t in range(seconds)]
    for at, ms in latencies:
        s.add_trend("turn_latency", ms, tags, at=at)
    s.finish(at=float(seconds))
    return s


def rising_latencies(seconds: int = 9, start: float = 300.0, end: float = 2400.0) -> list[Any]:
    step = (end - start) / (seconds - 1)
    return [(t + 0.5, start + step * t) for t in range(seconds)]


def phase(name: str, start: float, count: int, **keys: Any) -> list[dict[str, Any]]:
    """``count`` samples one second apart; a list value gives one value per sample."""
    out = []
    for i in range(count):
        sample: dict[str, Any] = {"t": start + i, "phase": name}
        for key, value in keys.items():
            sample[key] = value[i] if isinstance(value, list) else value
        out.append(sample)
    return out


HEALTHY = {
    "backend_up": True,
    "process_alive": True,
    "pid": 4242,
    "db_up": True,
    "pg_max_connections": 20,
    "pg_reserved_connections": 3,
    "pool_waiting": 0,
    "db_errors_total": 0,
    "db_too_many_connections_total": 0,
    "db_acquire_timeout_total": 0,
    "upstream_rate_limited_total": 0,
    "upstream_timeout_total": 0,
    "rejected_sessions_total": 0,
    "backend_calls_total": 0,
}


def healthy_samples(**overrides: Any) -> list[dict[str, Any]]:
    """3 baseline, 10 load, 3 cooldown samples of a backend that copes and recovers."""
    base = {**HEALTHY, "rss_bytes": 60 * MB, "cpu_percent": 2.0, "pg_total": 2, "pool_size": 2}
    load = {
        **HEALTHY,
        "rss_bytes": 66 * MB,
        "cpu_percent": 45.0,
        "pg_total": 6,
        "pool_size": 6,
        "active_calls": 5,
        "upstream_latency_p95_ms": 300.0,
        "backend_calls_total": list(range(0, 20, 2)),
    }
    cool = {**base, "backend_calls_total": 20}
    for key, value in overrides.items():
        group, _, name = key.partition("__")
        groups: dict[str, dict[str, Any]] = {"base": base, "load": load, "cool": cool}
        groups[group][name] = value
    return (
        phase("baseline", -3, 3, **base)
        + phase("load", 0, 10, **load)
        + phase("cooldown", 10, 3, **cool)
    )


def evidence(
    s: MetricsStore | None = None, samples: list[dict[str, Any]] | None = None
) -> RunEvidence:
    monitor = MonitorEvidence(tuple(samples or ()), 10.0)
    return RunEvidence(s if s is not None else store(), monitor)
