"""cpu_bottleneck: the backend's process ran near a full core (≥ 90 % in several load samples)
while turn latency rose with load or was already high."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import latency_rising, p95

RULE = "cpu_bottleneck"
HOT_PERCENT = 90.0  # of one core: an asyncio backend runs on one
HOT_SAMPLES = 2
SLOW_MS = 1500.0


def check(ev: RunEvidence) -> Finding | None:
    cpu = ev.monitor.values("cpu_percent", "load")
    hot = [c for c in cpu if c >= HOT_PERCENT]
    if len(hot) < HOT_SAMPLES:
        return None
    rising, trend = latency_rising(ev.store)
    turn = p95(ev.store)
    if not (rising or (turn is not None and turn >= SLOW_MS)):
        return None
    evidence = [
        f"CPU at or above {HOT_PERCENT:.0f} % of a core in {len(hot)} of {len(cpu)} load "
        f"samples (peak {max(hot):.0f} %)",
        trend,
    ]
    if turn is not None:
        evidence.append(f"turn latency p95 {turn:.0f} ms")
    return Finding(
        rule=RULE,
        title="CPU bottleneck: the backend's event loop is saturated",
        severity="critical",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="Profile the hot path (py-spy/clinic flame graph); move audio transcoding or "
        "other CPU work off the event loop, or run more processes.",
    )
