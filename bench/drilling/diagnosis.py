"""The drills' seam with the generator's monitor and diagnosis (generator/monitor,
generator/diagnosis): the monitor a drill run points at its stack, and the zone and findings
read back from the run's summary.json (findings, and the `info` ones as notes). Kept in one
place so the drills depend on those packages through three small functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.stack.state import StackState
from generator.monitor.config import from_stack
from generator.monitor.monitor import Monitor


def make_monitor(state: StackState, out_dir: Path, *, cooldown_s: float) -> Monitor:
    """A monitor on the stack's backend, upstream, Postgres and backend process. ``out_dir`` is
    where the runner writes monitor.jsonl."""
    del out_dir  # the runner opens RUN_DIR/monitor.jsonl itself
    config = from_stack(state, cooldown_s=cooldown_s, baseline_samples=2)
    return Monitor(config)


def runner_kwargs(monitor: Monitor) -> dict[str, Any]:
    return {"monitor": monitor}


def observed(summary: dict[str, Any]) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """The run's zone, the rules that fired as findings and those that fired as `info` notes
    (each sorted, each name once)."""
    zone = summary.get("zone")
    if zone is None and isinstance(summary.get("verdict"), dict):
        zone = summary["verdict"].get("zone")
    findings: set[str] = set()
    notes: set[str] = set()
    for item in findings_of(summary):
        if item.get("rule"):
            (notes if item.get("severity") == "info" else findings).add(str(item["rule"]))
    return (str(zone) if zone is not None else None), tuple(sorted(findings)), tuple(sorted(notes))


def findings_of(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in summary.get("findings") or [] if isinstance(item, dict)]
