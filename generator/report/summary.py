"""The summary builder: the one place that turns a metrics store and threshold results into
figures, a `Summary` (summary_model.py; its JSON is docs/summary-schema.md); renderers only
format it.
With the monitor's evidence it also carries the verdict (performance targets and zones), the
diagnosis findings and the monitor's baseline / peak / recovery; without it, the verdict rows
that need the target's side are `n/a` and only the generator-side rules can fire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generator.diagnosis.finding import RunEvidence
from generator.diagnosis.rules import diagnose
from generator.diagnosis.verdict import verdict
from generator.metrics.store import MetricsStore
from generator.metrics.thresholds import ThresholdResult
from generator.monitor.evidence import MonitorEvidence
from generator.report.summary_model import (
    STATUSES,
    Calls,
    Connections,
    MonitorSummary,
    Status,
    Summary,
    TrendFigures,
    WorkloadInfo,
)

PERCENTILES = (50, 90, 95, 99)
# Order in which reports list the call metrics; any other trend follows alphabetically.
MAIN_TRENDS = (
    "connect_time",
    "greeting_latency",
    "turn_latency",
    "response_time",
    "call_duration",
    "audio_gap",
    "send_lag",
)


def _ms(value: float) -> float:
    return round(value, 3)


def trend_figures(store: MetricsStore, name: str) -> TrendFigures:
    stats = store.trend(name)
    p50, p90, p95, p99 = (_ms(stats.p(p)) for p in PERCENTILES)
    return TrendFigures(
        stats.count, _ms(stats.min), _ms(stats.avg), p50, p90, p95, p99, _ms(stats.max)
    )


def _status(value: object) -> Status:
    """A run.json status; one the schema does not know (a slice's `running`: its process was
    killed) counts as interrupted, as the merge ranks it."""
    for status in STATUSES:
        if value == status:
            return status
    return "interrupted"


def _workloads(meta: Mapping[str, Any]) -> dict[str, WorkloadInfo]:
    found = meta.get("workloads", {})
    return {
        name: WorkloadInfo(str(w["type"]), str(w["executor"]), int(w["max_vus"]))
        for name, w in found.items()
    }


# How the connections workload counts (generator/workloads/connections.py), and the error kinds
# that mean the target turned a connection away rather than dropped it later.
CONNECTIONS = "ws_sessions"
OPEN_GAUGE = "ws_open"
REFUSED_KINDS = ("server_capacity", "handshake_rejected")


def _connections(store: MetricsStore) -> Connections | None:
    """The connections workloads' figures; None when the run had none. ``peak_open``: each
    workload's own peak, summed (an upper bound of the run's when several held connections)."""
    outcomes = store.counter_by(CONNECTIONS, "outcome")
    if not outcomes:
        return None
    workloads = set(store.counter_by(CONNECTIONS, "workload"))
    refused = sum(
        n
        for kind in REFUSED_KINDS
        for w, n in store.counter_by("errors_total", "workload", {"kind": kind}).items()
        if w in workloads
    )
    peak = store.gauge(OPEN_GAUGE)[1]
    held, failed = outcomes.get("ok", 0), outcomes.get("failed", 0)
    return Connections(held + failed, held, failed, refused, int(peak))


def build_summary(
    store: MetricsStore,
    results: list[ThresholdResult],
    meta: Mapping[str, Any],
    monitor: MonitorEvidence | None = None,
) -> Summary:
    """``meta``: name, started_at, status (completed|aborted|interrupted), scenario (dict),
    workloads ({name: {type, executor, max_vus}}), as run.json holds them.
    ``monitor``: the target monitor's evidence, when the run had one."""
    evidence = monitor if monitor is not None else MonitorEvidence()
    findings = diagnose(RunEvidence(store, evidence))
    duration = store.elapsed()
    outcomes = store.counter_by("calls_total", "outcome")
    succeeded, failed = outcomes.get("succeeded", 0), outcomes.get("failed", 0)
    total = succeeded + failed
    names = store.metric_names()
    trends = [n for n in MAIN_TRENDS if names.get(n) == "trend"]
    trends += sorted(n for n, kind in names.items() if kind == "trend" and n not in MAIN_TRENDS)
    status = _status(meta.get("status", "completed"))
    vus_series = [
        sum(row["gauges"].get(k, 0) for k in row["gauges"] if k.startswith("vus"))
        for row in store.series_rows()
    ]
    started = meta.get("started_at")
    return Summary(
        name=str(meta.get("name", "run")),
        started_at=None if started is None else str(started),
        status=status,
        duration_s=round(duration, 3),
        workloads=_workloads(meta),
        calls=Calls(total, succeeded, failed),
        success_rate=round(succeeded / total, 4) if total else None,
        calls_per_s=round(total / duration, 3) if duration > 0 else 0.0,
        iterations=store.counter("iterations"),
        dropped_iterations=store.counter("dropped_iterations"),
        vus_max=int(max(vus_series, default=0)),
        metrics={name: trend_figures(store, name) for name in trends},
        counters={n: store.counter(n) for n, kind in sorted(names.items()) if kind == "counter"},
        rates={
            n: round(store.rate(n).rate, 4) for n, kind in sorted(names.items()) if kind == "rate"
        },
        errors=dict(sorted(store.counter_by("errors_total", "kind").items())),
        thresholds=tuple(results),
        passed=status == "completed" and all(r.ok for r in results),
        verdict=verdict(store, evidence),
        findings=tuple(findings),
        monitor=MonitorSummary.from_json(evidence.as_summary(), "monitor"),
        connections=_connections(store),
        config=meta.get("scenario", {}),
    )


# The latency the live figures show: the run's main trend, as the per-second chart picks it.
LIVE_LATENCY = (
    ("turn_latency", "turn"),
    ("http_req_duration", "req"),
    ("webhook_duration", "webhook"),
    ("ws_connecting", "connect"),
)


@dataclass(frozen=True)
class LiveFigures:
    """What the live progress line (terminal.render_progress) and the live dashboard show, once
    a second. ``turn_p95_ms`` is the p95 of the run's main latency, named by ``latency``
    (turn, req, webhook, connect); the traffic a run does not send stays 0."""

    elapsed_s: float
    vus: int
    iterations: int
    succeeded: int
    failed: int
    errors: int
    dropped: int
    turn_p95_ms: float | None
    latency: str = "turn"
    requests: int = 0
    webhooks: int = 0
    connections: int = 0  # connections ended (held to the end or not)
    open_connections: int = 0

    @property
    def makes_calls(self) -> bool:
        """Calls counted, or no other traffic to show."""
        other = self.requests or self.webhooks or self.connections or self.open_connections
        return bool(self.succeeded or self.failed or not other)


def live_figures(store: MetricsStore, vus: int) -> LiveFigures:
    """What the live progress line shows, computed here so the line only formats."""
    outcomes = store.counter_by("calls_total", "outcome")
    metric, name = next(
        (found for found in LIVE_LATENCY if store.tag_sets(found[0])), LIVE_LATENCY[0]
    )
    latency = store.trend(metric)
    return LiveFigures(
        elapsed_s=store.elapsed(),
        vus=vus,
        iterations=store.counter("iterations"),
        succeeded=outcomes.get("succeeded", 0),
        failed=outcomes.get("failed", 0),
        errors=store.counter("errors_total"),
        dropped=store.counter("dropped_iterations"),
        turn_p95_ms=latency.p(95) if latency.count else None,
        latency=name,
        requests=store.counter("http_reqs"),
        webhooks=store.counter("webhooks_total"),
        connections=store.counter(CONNECTIONS),
        open_connections=int(store.gauge(OPEN_GAUGE)[0]),
    )
