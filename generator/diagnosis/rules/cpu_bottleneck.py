"""cpu_bottleneck: the backend's event loop ran out of CPU — its process near a full core (≥ 90 %
in several load samples), or its loop waking timers late (lag p95 ≥ 100 ms in several samples)
while its CPU was high (≥ 70 %) — and turn latency rose with load or was already high.

The lag clause keeps the finding when the core is shared: a backend starved by a neighbour reads
less than 90 % of a core, but its loop is just as late; a loop that is late with a cool CPU is
blocked (sleeps, sync I/O), not short of CPU, and stays out of this rule."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import latency_rising, p95

RULE = "cpu_bottleneck"
HOT_PERCENT = 90.0  # of one core: an asyncio backend runs on one
HOT_SAMPLES = 2
SLOW_MS = 1500.0
LAG_MS = 100.0  # the loop's timer lag p95 in one monitor window
WARM_PERCENT = 70.0  # the CPU a late loop needs to count as short of CPU


def check(ev: RunEvidence) -> Finding | None:
    cpu = ev.monitor.values("cpu_percent", "load")
    hot = [c for c in cpu if c >= HOT_PERCENT]
    lag = ev.monitor.values("loop_lag_p95_ms", "load")
    late = [w for w in lag if w >= LAG_MS]
    starved = len(late) >= HOT_SAMPLES and max(cpu, default=0.0) >= WARM_PERCENT
    if len(hot) < HOT_SAMPLES and not starved:
        return None
    rising, trend = latency_rising(ev.store)
    turn = p95(ev.store)
    if not (rising or (turn is not None and turn >= SLOW_MS)):
        return None
    evidence = [
        f"CPU at or above {HOT_PERCENT:.0f} % of a core in {len(hot)} of {len(cpu)} load "
        f"samples (peak {max(cpu):.0f} %)",
    ]
    if late:
        evidence.append(
            f"event loop lag p95 at or above {LAG_MS:.0f} ms in {len(late)} of {len(lag)} load "
            f"samples (peak {max(late):.0f} ms)"
        )
    evidence.append(trend)
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
