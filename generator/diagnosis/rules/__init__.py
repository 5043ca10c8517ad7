"""The diagnosis rules, one module per failure mode, and the registry that runs them in order.

Each module has `RULE` (its name, also its runbook's: bench/runbooks/<rule>.md) and
`check(RunEvidence) -> Finding | None`; a rule fires only on its own evidence (docs/diagnosis.md).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from generator.diagnosis.finding import Finding, RunEvidence
from generator.diagnosis.rules import (
    backend_crash,
    capacity_limit,
    cpu_bottleneck,
    db_pool_exhausted,
    db_pool_starvation,
    memory_leak,
    target_rate_limited,
    upstream_rate_limited,
    upstream_slow,
)

Check = Callable[[RunEvidence], Finding | None]

_MODULES: tuple[ModuleType, ...] = (
    backend_crash,
    db_pool_exhausted,
    db_pool_starvation,
    memory_leak,
    upstream_rate_limited,
    upstream_slow,
    capacity_limit,
    target_rate_limited,
    cpu_bottleneck,
)
RULES: dict[str, Check] = {module.RULE: module.check for module in _MODULES}


def diagnose(evidence: RunEvidence, rules: dict[str, Check] | None = None) -> list[Finding]:
    """Every finding, in registry order (most severe failure modes first)."""
    found = []
    for check in (rules or RULES).values():
        finding = check(evidence)
        if finding is not None:
            found.append(finding)
    return found
