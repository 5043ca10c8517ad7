"""What a diagnosis rule reads (`RunEvidence`) and what it returns (`Finding`: its ``runbook`` is
a runbook id, the rule's name, resolved by whoever shows it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from generator.metrics.store import MetricsStore
from generator.monitor.evidence import MonitorEvidence

# "info": the failure mode happened but was absorbed (no caller hurt) - worth knowing, not a cause.
Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    rule: str
    title: str
    severity: Severity
    evidence: list[str]
    runbook: str
    next_step: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity,
            "evidence": list(self.evidence),
            "runbook": self.runbook,
            "next_step": self.next_step,
        }


def runbook(rule: str) -> str:
    """A rule's runbook id: its name. Where the runbook lives is the caller's to know (the bench
    keeps one ``ID.md`` per rule and hands that directory to the reports, RunOptions.runbooks);
    the generator names no file of another package."""
    return rule


@dataclass(frozen=True)
class RunEvidence:
    """The generator's store (what the callers saw) and the monitor's evidence (what the target
    showed; empty when the run had no monitor)."""

    store: MetricsStore
    monitor: MonitorEvidence = field(default_factory=MonitorEvidence)
