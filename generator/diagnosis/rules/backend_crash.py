"""backend_crash: the backend went away during the run — its process is gone, it refused
connections (not merely slow: `backend_unresponsive` samples do not count), its PID changed, or
its counters started again from zero (a restart)."""

from __future__ import annotations

import itertools

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import errors

RULE = "backend_crash"
RESTART_COUNTERS = ("backend_calls_total", "rejected_sessions_total", "db_errors_total")


def check(ev: RunEvidence) -> Finding | None:
    m = ev.monitor
    during = m.phase("load", "cooldown")
    down = [s for s in during if s.get("backend_up") is False and not s.get("backend_unresponsive")]
    gone = [s for s in during if s.get("process_alive") is False]
    pids = {s["pid"] for s in m.samples if isinstance(s.get("pid"), int)}
    restarted = [k for k in RESTART_COUNTERS if _dropped(m.values(k))]
    if not (down or gone or len(pids) > 1 or restarted):
        return None
    evidence = []
    if down:
        evidence.append(
            f"the backend stopped answering at t={float(down[0]['t']):.1f} s "
            f"({len(down)} samples down)"
        )
    if gone:
        evidence.append(f"its process was gone from t={float(gone[0]['t']):.1f} s")
    if len(pids) > 1:
        evidence.append(f"its PID changed: {', '.join(str(p) for p in sorted(pids))}")
    if restarted:
        evidence.append(f"counters started again from zero: {', '.join(restarted)}")
    refused = errors(ev.store, "refused")
    if refused:
        evidence.append(f"{refused} calls could not connect")
    return Finding(
        rule=RULE,
        title="Backend crash: the backend process died or restarted during the run",
        severity="critical",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="Read the backend's log around the crash (OOM killer, unhandled exception); "
        "run it under a supervisor that restarts it and alerts.",
    )


def _dropped(values: list[float]) -> bool:
    return any(b < a for a, b in itertools.pairwise(values))
