"""The diagnosis rules, one module per failure mode, and the registry that runs them in order.

Each module has `RULE` (its name, also its runbook's id; the bench keeps <rule>.md) and
`check(RunEvidence) -> Finding | None`; a rule fires only on its own evidence (docs/diagnosis.md).

Some failure modes cause the symptoms other rules look for: a saturated event loop delays all the
backend measures — its upstream latency, its pool acquisitions. `SYMPTOMS` says which findings a
root cause explains; `diagnose` folds them into the root cause's evidence instead of blaming a
second cause, unless `independent` evidence (the upstream's own latency) says it happened too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import ModuleType

from generator.diagnosis.finding import Finding, RunEvidence
from generator.diagnosis.rules import (
    backend_crash,
    barge_in_ignored,
    capacity_limit,
    cpu_bottleneck,
    db_pool_exhausted,
    db_pool_starvation,
    memory_leak,
    target_rate_limited,
    upstream_api_refused,
    upstream_rate_limited,
    upstream_session_expired,
    upstream_slow,
)

Check = Callable[[RunEvidence], Finding | None]

_MODULES: tuple[ModuleType, ...] = (
    backend_crash,
    upstream_api_refused,
    db_pool_exhausted,
    db_pool_starvation,
    memory_leak,
    upstream_rate_limited,
    upstream_slow,
    upstream_session_expired,
    capacity_limit,
    target_rate_limited,
    barge_in_ignored,
    cpu_bottleneck,
)
RULES: dict[str, Check] = {module.RULE: module.check for module in _MODULES}

# root cause -> the findings it explains when it fires
SYMPTOMS: dict[str, tuple[str, ...]] = {
    cpu_bottleneck.RULE: (upstream_slow.RULE, db_pool_starvation.RULE),
}


def independent(symptom: str, evidence: RunEvidence) -> bool:
    """Whether ``symptom`` stands on evidence the root cause cannot have produced: the upstream's
    own measurement of its latency (the backend's view is delayed by its own loop)."""
    if symptom == upstream_slow.RULE:
        own = evidence.monitor.values("realtime_first_delta_p95_ms", "load")
        return len([w for w in own if w >= upstream_slow.SLOW_MS]) >= upstream_slow.SLOW_SAMPLES
    return False


def _fold(found: list[Finding], evidence: RunEvidence) -> list[Finding]:
    by_rule = {f.rule: f for f in found}
    folded: set[str] = set()
    for cause, symptoms in SYMPTOMS.items():
        root = by_rule.get(cause)
        if root is None:
            continue
        explained = [by_rule[s] for s in symptoms if s in by_rule and not independent(s, evidence)]
        if not explained:
            continue
        notes = [
            f"explains {f.rule} ({'; '.join(f.evidence[:2])}): a consequence, not a second cause"
            for f in explained
        ]
        by_rule[cause] = dataclasses.replace(root, evidence=[*root.evidence, *notes])
        folded.update(f.rule for f in explained)
    return [by_rule[f.rule] for f in found if f.rule not in folded]


def diagnose(evidence: RunEvidence, rules: dict[str, Check] | None = None) -> list[Finding]:
    """Every finding, in registry order (most severe failure modes first), with the symptoms a
    root cause explains folded into it."""
    found = []
    for check in (rules or RULES).values():
        finding = check(evidence)
        if finding is not None:
            found.append(finding)
    return _fold(found, evidence)
