"""The drills' seam with the generator's monitor and diagnosis (generator/monitor,
generator/diagnosis): the monitor a drill run points at its stack, and the zone and findings
read back from the run's summary.json (findings, and the `info` ones as notes). Kept in one
place so the drills depend on those packages through three small functions."""

from __future__ import annotations

from bench.monitoring import from_stack
from bench.stack.state import StackState
from generator.diagnosis.finding import Finding
from generator.diagnosis.verdict import Zone
from generator.monitor.config import MonitorConfig
from generator.report.summary_model import Summary


def monitor_config(state: StackState, *, cooldown_s: float) -> MonitorConfig:
    """What a drill's monitor watches: the stack's backend, upstream, Postgres and backend
    process (the runner opens RUN_DIR/monitor.jsonl itself)."""
    return from_stack(state, cooldown_s=cooldown_s, baseline_samples=2)


def observed(summary: Summary | None) -> tuple[Zone | None, tuple[str, ...], tuple[str, ...]]:
    """The run's zone, the rules that fired as findings and those that fired as `info` notes
    (each sorted, each name once); no zone without a summary or a verdict in it."""
    found = findings_of(summary)
    findings = {f.rule for f in found if f.severity != "info"}
    notes = {f.rule for f in found if f.severity == "info"}
    zone = None if summary is None else summary.zone
    return zone, tuple(sorted(findings)), tuple(sorted(notes))


def findings_of(summary: Summary | None) -> tuple[Finding, ...]:
    return () if summary is None or summary.findings is None else summary.findings
