"""A run summary that measured nothing, for tests that need a `Summary` and care about only a few
of its fields (a drill's zone and findings, the report of an empty run)."""

from __future__ import annotations

from typing import Any

from generator.report.summary_model import Calls, Summary


def bare_summary(**fields: Any) -> Summary:
    """No workloads, calls, metrics or thresholds; ``fields`` set the ones a test cares about."""
    bare: dict[str, Any] = {
        "name": "run",
        "started_at": None,
        "status": "completed",
        "duration_s": 0.0,
        "workloads": {},
        "calls": Calls(0, 0, 0),
        "success_rate": None,
        "calls_per_s": 0.0,
        "iterations": 0,
        "dropped_iterations": 0,
        "vus_max": 0,
        "metrics": {},
        "counters": {},
        "rates": {},
        "errors": {},
        "thresholds": (),
        "passed": True,
        "config": {},
    }
    return Summary(**(bare | fields))
