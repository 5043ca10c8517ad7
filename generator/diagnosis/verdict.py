"""The verdict: the seed's performance-targets table, each row in a zone, and the readiness line
of its decision matrix.

| row | green | yellow | red |
| --- | --- | --- | --- |
| success rate | ≥ 99 % | ≥ 95 % | below |
| turn latency p95 | < 1500 ms | < 3000 ms | at or above |
| peak CPU (backend, % of a core) | < 70 % | < 85 % | at or above |
| memory growth after cooldown | < 20 % | < 50 % | at or above |
| peak DB connections / cap | < 80 % | < 100 % | at or above |
| error rate (errors / iterations) | < 1 % | < 5 % | at or above |

A row without data is `n/a`, never green; the run's zone is its worst row (`n/a` when every row
is). Pure: reads the store and the monitor's evidence, returns the `Verdict` a summary carries
(generator/report/summary_model.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from generator.metrics.store import MetricsStore
from generator.monitor.evidence import MonitorEvidence

Zone = Literal["green", "yellow", "red", "n/a"]
ORDER: dict[str, int] = {"n/a": 0, "green": 1, "yellow": 2, "red": 3}

READINESS: dict[str, str] = {
    "green": "ready for production load at this level",
    "yellow": "ready with caution: fix the yellow rows before launch",
    "red": "not ready: fix the red rows first",
    "n/a": "no verdict: the run measured none of the targets",
}


@dataclass(frozen=True)
class Band:
    """Zones by value: green below ``green`` (above, when ``higher_is_better``), yellow below
    ``yellow``, red otherwise."""

    green: float
    yellow: float
    higher_is_better: bool = False

    def zone(self, value: float) -> Zone:
        if self.higher_is_better:
            return "green" if value >= self.green else "yellow" if value >= self.yellow else "red"
        return "green" if value < self.green else "yellow" if value < self.yellow else "red"

    def describe(self, unit: str) -> str:
        op = "≥" if self.higher_is_better else "<"
        return f"green {op} {self.green:g}{unit}, yellow {op} {self.yellow:g}{unit}"


BANDS = {
    "success_rate": Band(99.0, 95.0, higher_is_better=True),
    "turn_latency_p95": Band(1500.0, 3000.0),
    "cpu_peak": Band(70.0, 85.0),
    "memory_growth": Band(20.0, 50.0),
    "db_connections": Band(80.0, 100.0),
    "error_rate": Band(1.0, 5.0),
}
LABELS = {
    "success_rate": ("success rate", "%"),
    "turn_latency_p95": ("turn latency p95", " ms"),
    "cpu_peak": ("peak CPU", "%"),
    "memory_growth": ("memory growth after cooldown", "%"),
    "db_connections": ("peak DB connections / cap", "%"),
    "error_rate": ("error rate", "%"),
}


@dataclass(frozen=True)
class TargetRow:
    """A performance target's row of the verdict; ``value`` None and zone `n/a` without data."""

    target: str
    label: str
    value: float | None
    unit: str
    zone: Zone
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "zone": self.zone,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Verdict:
    """The run's zone (its worst row), the readiness line for it, and the rows. In the summary's
    JSON these are three top-level keys: `zone`, `readiness` and `verdict` (the rows)."""

    zone: Zone
    readiness: str
    rows: tuple[TargetRow, ...]


def row(target: str, value: float | None, detail: str, missing: str) -> TargetRow:
    label, unit = LABELS[target]
    band = BANDS[target]
    if value is None:
        return TargetRow(target, label, None, unit.strip(), "n/a", f"no data: {missing}")
    value = round(value, 2)
    zone = band.zone(value)
    return TargetRow(target, label, value, unit.strip(), zone, f"{detail} ({band.describe(unit)})")


def _calls(store: MetricsStore) -> tuple[int, int]:
    outcomes = store.counter_by("calls_total", "outcome")
    succeeded = outcomes.get("succeeded", 0)
    return succeeded, succeeded + outcomes.get("failed", 0)


def _db_ratio(monitor: MonitorEvidence) -> tuple[float | None, str]:
    peak = monitor.peak.get("pg_total")
    limit = monitor.peak.get("pg_max_connections")
    if peak is None or limit is None:
        return None, ""
    cap = limit - monitor.peak.get("pg_reserved_connections", 0.0)
    if cap <= 0:
        return None, ""
    return peak / cap * 100.0, f"{peak:.0f} of {cap:.0f} connections a normal role may open"


def verdict_rows(store: MetricsStore, monitor: MonitorEvidence) -> list[TargetRow]:
    succeeded, total = _calls(store)
    turn = store.trend("turn_latency")
    iterations = max(store.counter("iterations"), total)
    errors = store.counter("errors_total")
    cpu = monitor.peak.get("cpu_percent")
    memory = monitor.memory_recovery()
    db_ratio, db_detail = _db_ratio(monitor)
    return [
        row(
            "success_rate",
            succeeded / total * 100.0 if total else None,
            f"{succeeded} of {total} calls succeeded",
            "no calls",
        ),
        row(
            "turn_latency_p95",
            turn.p(95) if turn.count else None,
            f"over {turn.count} turns",
            "no turn_latency samples",
        ),
        row("cpu_peak", cpu, "highest backend CPU sample under load", "no CPU samples (--pid)"),
        row(
            "memory_growth",
            memory.growth_pct,
            "RSS after cooldown against the baseline",
            "no RSS baseline and cooldown samples",
        ),
        row("db_connections", db_ratio, db_detail, "no pg_stat_activity samples (--db-dsn)"),
        row(
            "error_rate",
            min(errors / iterations, 1.0) * 100.0 if iterations else None,
            f"{errors} errors over {iterations} iterations",
            "no iterations",
        ),
    ]


def worst(rows: list[TargetRow]) -> Zone:
    zone: Zone = "n/a"
    for r in rows:
        if ORDER[r.zone] > ORDER[zone]:
            zone = r.zone
    return zone


def verdict(store: MetricsStore, monitor: MonitorEvidence) -> Verdict:
    """The summary's verdict (docs/summary-schema.md)."""
    rows = verdict_rows(store, monitor)
    zone = worst(rows)
    return Verdict(zone, READINESS[zone], tuple(rows))
