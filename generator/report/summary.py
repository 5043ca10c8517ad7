"""The summary builder: the one place that turns a metrics store and threshold results into
figures. Everything it returns is plain JSON (docs/summary-schema.md); renderers only format it.
With the monitor's evidence it also carries the verdict (performance targets and zones), the
diagnosis findings and the monitor's baseline / peak / recovery; without it, the verdict rows
that need the target's side are `n/a` and only the generator-side rules can fire.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator.diagnosis.finding import RunEvidence
from generator.diagnosis.rules import diagnose
from generator.diagnosis.verdict import verdict
from generator.metrics.store import MetricsStore
from generator.metrics.thresholds import ThresholdResult
from generator.monitor.evidence import MonitorEvidence

SCHEMA = "callbench.summary/1"
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


def trend_figures(store: MetricsStore, name: str) -> dict[str, float | int]:
    stats = store.trend(name)
    figures: dict[str, float | int] = {
        "count": stats.count,
        "min": _ms(stats.min),
        "avg": _ms(stats.avg),
    }
    figures.update({f"p{p}": _ms(stats.p(p)) for p in PERCENTILES})
    figures["max"] = _ms(stats.max)
    return figures


def build_summary(
    store: MetricsStore,
    results: list[ThresholdResult],
    meta: Mapping[str, Any],
    monitor: MonitorEvidence | None = None,
) -> dict[str, Any]:
    """``meta``: name, started_at, status (completed|aborted|interrupted), scenario (dict),
    workloads ({name: {type, executor, max_vus}}); copied into the summary as they are.
    ``monitor``: the target monitor's evidence, when the run had one."""
    evidence = monitor if monitor is not None else MonitorEvidence()
    judged = verdict(store, evidence)
    findings = diagnose(RunEvidence(store, evidence))
    duration = store.elapsed()
    outcomes = store.counter_by("calls_total", "outcome")
    succeeded, failed = outcomes.get("succeeded", 0), outcomes.get("failed", 0)
    total = succeeded + failed
    names = store.metric_names()
    trends = [n for n in MAIN_TRENDS if names.get(n) == "trend"]
    trends += sorted(n for n, kind in names.items() if kind == "trend" and n not in MAIN_TRENDS)
    status = str(meta.get("status", "completed"))
    vus_series = [
        sum(row["gauges"].get(k, 0) for k in row["gauges"] if k.startswith("vus"))
        for row in store.series_rows()
    ]
    return {
        "schema": SCHEMA,
        "name": meta.get("name", "run"),
        "started_at": meta.get("started_at"),
        "status": status,
        "duration_s": round(duration, 3),
        "workloads": dict(meta.get("workloads", {})),
        "calls": {"total": total, "succeeded": succeeded, "failed": failed},
        "success_rate": round(succeeded / total, 4) if total else None,
        "calls_per_s": round(total / duration, 3) if duration > 0 else 0.0,
        "iterations": store.counter("iterations"),
        "dropped_iterations": store.counter("dropped_iterations"),
        "vus_max": int(max(vus_series, default=0)),
        "metrics": {name: trend_figures(store, name) for name in trends},
        "counters": {n: store.counter(n) for n, kind in sorted(names.items()) if kind == "counter"},
        "rates": {
            n: round(store.rate(n).rate, 4) for n, kind in sorted(names.items()) if kind == "rate"
        },
        "errors": dict(sorted(store.counter_by("errors_total", "kind").items())),
        "thresholds": [
            {"expr": r.expr, "value": r.value, "ok": r.ok, **({"note": r.note} if r.note else {})}
            for r in results
        ],
        "passed": status == "completed" and all(r.ok for r in results),
        "zone": judged["zone"],
        "readiness": judged["readiness"],
        "verdict": judged["rows"],
        "findings": [f.as_dict() for f in findings],
        "monitor": evidence.as_summary(),
        "config": meta.get("scenario", {}),
    }


def live_figures(store: MetricsStore, vus: int) -> dict[str, Any]:
    """What the live progress line shows, computed here so the line only formats."""
    outcomes = store.counter_by("calls_total", "outcome")
    turn = store.trend("turn_latency")
    return {
        "elapsed_s": store.elapsed(),
        "vus": vus,
        "iterations": store.counter("iterations"),
        "succeeded": outcomes.get("succeeded", 0),
        "failed": outcomes.get("failed", 0),
        "errors": store.counter("errors_total"),
        "dropped": store.counter("dropped_iterations"),
        "turn_p95_ms": turn.p(95) if turn.count else None,
    }
