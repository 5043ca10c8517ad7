"""db_pool_exhausted: PostgreSQL refused connections at its cap (SQLSTATE 53300, in any
version's wording), seen in the backend's db_errors_total{kind=too_many_connections} or in the
errors callers got; connections at the cap in pg_stat_activity, with callers told the database
is unavailable, count too."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import errors_mentioning_too_many_connections, server_errors

RULE = "db_pool_exhausted"


def connections_at_cap(ev: RunEvidence) -> tuple[float, float] | None:
    """(peak client connections, the cap a normal role meets) when the peak reached the cap."""
    m = ev.monitor
    peak = m.peak.get("pg_cluster_total")
    limit = m.peak.get("pg_max_connections")
    if peak is None or limit is None:
        return None
    cap = limit - m.peak.get("pg_reserved_connections", 0.0)
    return (peak, cap) if peak >= cap else None


def check(ev: RunEvidence) -> Finding | None:
    evidence: list[str] = []
    refused = ev.monitor.increase("db_too_many_connections_total")
    if refused > 0:
        evidence.append(
            f"the backend counted {refused:.0f} database errors of kind too_many_connections "
            "(SQLSTATE 53300)"
        )
    worded = errors_mentioning_too_many_connections(ev.store)
    if worded:
        evidence.append(
            f"{worded} errors seen by callers carry PostgreSQL's too-many-clients wording"
        )
    at_cap = connections_at_cap(ev)
    unavailable = server_errors(ev.store, "db_unavailable")
    if at_cap is not None:
        evidence.append(
            f"pg_stat_activity peaked at {at_cap[0]:.0f} client connections, at the cap of "
            f"{at_cap[1]:.0f} (max_connections minus superuser-reserved slots)"
        )
    if not (refused or worded or (at_cap is not None and unavailable)):
        return None
    if unavailable:
        evidence.append(f"{unavailable} calls were told db_unavailable")
    return Finding(
        rule=RULE,
        title="Database connections exhausted: PostgreSQL refused new connections at its cap",
        severity="critical",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="Cap the application pool below max_connections (pool max × instances + "
        "headroom), or put PgBouncer in transaction mode in front of PostgreSQL.",
    )
