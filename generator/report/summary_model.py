"""The run summary as types: what summary.json and `--json` hold (docs/summary-schema.md, schema
`callbench.summary/1`), built by summary.py and read by every report, the merge, the drills and
`callbench report`.

`Summary.to_json()` gives the documented JSON, key for key and in the documented order;
`Summary.from_json()` reads it back and checks its shape (a `BadSummary` names the first place
that is wrong). Summaries written before the verdict, the findings, the target monitor and the
connections figures existed still read: those sections are then None, and `to_json()` leaves
them out again, so an old run directory's summary.json reads and writes back unchanged.

The verdict (`Verdict`, `TargetRow`), the findings and the threshold results are the types of the
layers that make them (generator/diagnosis, generator/metrics); this module reads them back from
the JSON and writes them into it.

Maps keyed by the run's own names (workloads, metrics, counters, rates, errors, the monitor's
keys) stay maps, of typed values: which metrics a run has depends on its workloads. `config` stays
the scenario's JSON (docs/scenario.md) rather than a model of it: it has its own model
(`generator.scenario.Scenario`), and a scenario written by an older version need not validate
under today's, while its summary must still read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from generator.diagnosis.finding import Finding, Severity
from generator.diagnosis.verdict import TargetRow, Verdict, Zone
from generator.errors import InvalidInput
from generator.metrics.thresholds import ThresholdResult
from generator.report import summary_json as js
from generator.report.summary_json import BadSummary
from generator.report.summary_monitor import MonitorSummary, PhaseSamples, RecoveryChecks

SCHEMA = "callbench.summary/1"
Status = Literal["completed", "aborted", "interrupted"]
STATUSES: tuple[Status, ...] = get_args(Status)
ZONES: tuple[Zone, ...] = get_args(Zone)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
# A trend's figures in the order the summary (and every table of them) lists them.
CONNECTION_FIELDS = ("total", "held", "failed", "refused", "peak_open")
TREND_COLUMNS = ("count", "min", "avg", "p50", "p90", "p95", "p99", "max")

__all__ = [
    "SCHEMA",
    "BadSummary",
    "MonitorSummary",
    "PhaseSamples",
    "RecoveryChecks",
    "Summary",
    "TargetRow",
    "ThresholdResult",
    "Verdict",
    "read_summary",
]


@dataclass(frozen=True)
class WorkloadInfo:
    type: str
    executor: str
    max_vus: int

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "executor": self.executor, "max_vus": self.max_vus}

    @staticmethod
    def from_json(value: object, where: str) -> WorkloadInfo:
        d = js.obj(value, where)
        return WorkloadInfo(
            js.text(d, "type", where),
            js.text(d, "executor", where),
            js.integer(d, "max_vus", where),
        )


@dataclass(frozen=True)
class Calls:
    total: int
    succeeded: int
    failed: int

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "succeeded": self.succeeded, "failed": self.failed}

    @staticmethod
    def from_json(value: object, where: str) -> Calls:
        d = js.obj(value, where)
        return Calls(*(js.integer(d, k, where) for k in ("total", "succeeded", "failed")))


@dataclass(frozen=True)
class Connections:
    """What a connections workload opened: ``total`` connections, ``held`` for their whole hold
    time, ``failed`` otherwise, of which ``refused`` turned away (capacity closes, rejected
    handshakes); ``peak_open``, the most open in one second's sample."""

    total: int
    held: int
    failed: int
    refused: int
    peak_open: int

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in CONNECTION_FIELDS}

    @staticmethod
    def from_json(value: object, where: str) -> Connections:
        d = js.obj(value, where)
        return Connections(*(js.integer(d, k, where) for k in CONNECTION_FIELDS))


@dataclass(frozen=True)
class TrendFigures:
    """One trend in milliseconds (``count`` samples)."""

    count: int
    min: float
    avg: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float

    def cells(self) -> tuple[float, ...]:
        """The figures in TREND_COLUMNS order."""
        return (self.count, self.min, self.avg, self.p50, self.p90, self.p95, self.p99, self.max)

    def to_json(self) -> dict[str, Any]:
        return dict(zip(TREND_COLUMNS, self.cells(), strict=True))

    @staticmethod
    def from_json(value: object, where: str) -> TrendFigures:
        d = js.obj(value, where)
        figures = [js.number(d, k, where) for k in TREND_COLUMNS[1:]]
        return TrendFigures(js.integer(d, "count", where), *figures)


def threshold_from_json(value: object, where: str) -> ThresholdResult:
    d = js.obj(value, where)
    return ThresholdResult(
        js.text(d, "expr", where),
        js.opt_number(d, "value", where),
        js.flag(d, "ok", where),
        js.opt_text(d, "note", where) or "",
    )


def threshold_json(t: ThresholdResult) -> dict[str, Any]:
    out: dict[str, Any] = {"expr": t.expr, "value": t.value, "ok": t.ok}
    if t.note:
        out["note"] = t.note
    return out


def target_row_from_json(value: object, where: str) -> TargetRow:
    d = js.obj(value, where)
    return TargetRow(
        js.text(d, "target", where),
        js.text(d, "label", where),
        js.opt_number(d, "value", where),
        js.text(d, "unit", where),
        js.choice(d, "zone", where, ZONES),
        js.text(d, "reason", where),
    )


def finding_from_json(value: object, where: str) -> Finding:
    d = js.obj(value, where)
    return Finding(
        rule=js.text(d, "rule", where),
        title=js.text(d, "title", where),
        severity=js.choice(d, "severity", where, SEVERITIES),
        evidence=list(js.items(d, "evidence", where, js.strings)),
        runbook=js.text(d, "runbook", where),
        next_step=js.text(d, "next_step", where),
    )


@dataclass(frozen=True)
class Summary:
    """One run's summary. ``verdict``, ``findings`` and ``monitor`` are None only in summaries
    written before those sections existed; ``findings`` is empty on a healthy run."""

    name: str
    started_at: str | None
    status: Status
    duration_s: float
    workloads: Mapping[str, WorkloadInfo]
    calls: Calls
    success_rate: float | None
    calls_per_s: float
    iterations: int
    dropped_iterations: int
    vus_max: int
    metrics: Mapping[str, TrendFigures]
    counters: Mapping[str, int]
    rates: Mapping[str, float]
    errors: Mapping[str, int]
    thresholds: tuple[ThresholdResult, ...]
    passed: bool
    config: Mapping[str, Any]
    verdict: Verdict | None = None
    findings: tuple[Finding, ...] | None = None
    monitor: MonitorSummary | None = None
    connections: Connections | None = None
    schema: str = SCHEMA

    @property
    def zone(self) -> Zone | None:
        return None if self.verdict is None else self.verdict.zone

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": self.schema,
            "name": self.name,
            "started_at": self.started_at,
            "status": self.status,
            "duration_s": self.duration_s,
            "workloads": {name: w.to_json() for name, w in self.workloads.items()},
            "calls": self.calls.to_json(),
            "success_rate": self.success_rate,
            "calls_per_s": self.calls_per_s,
            "iterations": self.iterations,
            "dropped_iterations": self.dropped_iterations,
            "vus_max": self.vus_max,
        }
        if self.connections is not None:
            out["connections"] = self.connections.to_json()
        out |= {
            "metrics": {name: m.to_json() for name, m in self.metrics.items()},
            "counters": dict(self.counters),
            "rates": dict(self.rates),
            "errors": dict(self.errors),
            "thresholds": [threshold_json(t) for t in self.thresholds],
            "passed": self.passed,
        }
        if self.verdict is not None:
            out["zone"] = self.verdict.zone
            out["readiness"] = self.verdict.readiness
            out["verdict"] = [r.as_dict() for r in self.verdict.rows]
        if self.findings is not None:
            out["findings"] = [f.as_dict() for f in self.findings]
        if self.monitor is not None:
            out["monitor"] = self.monitor.to_json()
        out["config"] = self.config
        return out

    def dumps(self) -> str:
        """The JSON text of summary.json, `--json` and `callbench report --format json`."""
        return json.dumps(self.to_json(), indent=2)

    @staticmethod
    def from_json(value: object) -> Summary:
        """Raises BadSummary when ``value`` is not a summary of schema callbench.summary/1."""
        d = js.obj(value, "summary")
        schema = js.text(d, "schema", "")
        if schema != SCHEMA:
            raise BadSummary("schema", f"expected {SCHEMA}, found {schema!r}")
        return Summary(
            schema=schema,
            name=js.text(d, "name", ""),
            started_at=js.opt_text(d, "started_at", ""),
            status=js.choice(d, "status", "", STATUSES),
            duration_s=js.number(d, "duration_s", ""),
            workloads=js.mapping(d, "workloads", "", WorkloadInfo.from_json),
            calls=Calls.from_json(d.get("calls"), "calls"),
            success_rate=js.opt_number(d, "success_rate", ""),
            calls_per_s=js.number(d, "calls_per_s", ""),
            iterations=js.integer(d, "iterations", ""),
            dropped_iterations=js.integer(d, "dropped_iterations", ""),
            vus_max=js.integer(d, "vus_max", ""),
            metrics=js.mapping(d, "metrics", "", TrendFigures.from_json),
            counters=js.mapping(d, "counters", "", js.as_int),
            rates=js.mapping(d, "rates", "", js.as_number),
            errors=js.mapping(d, "errors", "", js.as_int),
            thresholds=js.items(d, "thresholds", "", threshold_from_json),
            passed=js.flag(d, "passed", ""),
            config=js.obj(d.get("config"), "config"),
            verdict=_verdict_from_json(d),
            findings=(
                None if "findings" not in d else js.items(d, "findings", "", finding_from_json)
            ),
            monitor=(
                None if "monitor" not in d else MonitorSummary.from_json(d["monitor"], "monitor")
            ),
            connections=(
                None
                if "connections" not in d
                else Connections.from_json(d["connections"], "connections")
            ),
        )


def _verdict_from_json(d: Mapping[str, Any]) -> Verdict | None:
    if not any(key in d for key in ("zone", "readiness", "verdict")):
        return None
    return Verdict(
        js.choice(d, "zone", "", ZONES),
        js.text(d, "readiness", ""),
        js.items(d, "verdict", "", target_row_from_json),
    )


def read_summary(path: Path) -> Summary:
    """A summary.json file; InvalidInput naming the file and the place in it that is wrong."""
    try:
        return Summary.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(str(path), [f"cannot be read as JSON: {exc}"]) from None
    except BadSummary as exc:
        raise InvalidInput(str(path), [f"not a {SCHEMA} summary: {exc}"]) from None
