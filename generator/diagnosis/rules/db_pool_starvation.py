"""db_pool_starvation: callers waited for a pooled connection — the backend counted acquire
timeouts, or tasks kept waiting on the pool while turn latency rose with load. Waiting alone is
not counted when PostgreSQL itself refused connections (that is db_pool_exhausted: the pool
cannot grow, so waiting follows)."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import errors_mentioning_too_many_connections, latency_rising

RULE = "db_pool_starvation"
WAITING_SAMPLES = 3  # load samples with someone waiting on the pool, to call it sustained


def check(ev: RunEvidence) -> Finding | None:
    m = ev.monitor
    timeouts = m.increase("db_acquire_timeout_total")
    waiting = [v for v in m.values("pool_waiting", "load") if v > 0]
    refused = m.increase("db_too_many_connections_total") or errors_mentioning_too_many_connections(
        ev.store
    )
    rising, trend = latency_rising(ev.store)
    starved_by_waiting = len(waiting) >= WAITING_SAMPLES and rising and not refused
    if not (timeouts > 0 or starved_by_waiting):
        return None
    evidence = []
    if timeouts > 0:
        evidence.append(f"the backend counted {timeouts:.0f} pool acquire timeouts")
    if waiting:
        evidence.append(
            f"tasks waited for a connection in {len(waiting)} load samples "
            f"(peak {max(waiting):.0f} waiting)"
        )
    if "pool_size" in m.peak:
        evidence.append(f"pool size peaked at {m.peak['pool_size']:.0f}")
    evidence.append(trend)
    return Finding(
        rule=RULE,
        title="Database pool starvation: requests waited for a pooled connection",
        severity="critical" if timeouts > 0 else "warning",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="Hold connections for less time (no connection across an AI turn), then raise "
        "the pool size within max_connections; check for connections never released.",
    )
