"""capacity_limit: the backend turned calls away — closes 1008/1013 or `capacity` errors
(server_capacity), its rejected_sessions_total, or handshakes refused with HTTP 503.

A refusal is counted against what its workload opens: calls (`calls_total`) or held connections
(`ws_sessions`, the connections workload), so a connections run reads "N of M connections"."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import calls, errors, handshake_rejections
from generator.metrics.store import MetricsStore

RULE = "capacity_limit"
CONNECTIONS = "ws_sessions"  # the connections workload's counter of connections it opened


def refusal_lines(store: MetricsStore) -> list[str]:
    """ "N of M calls" / "N of M connections" were refused for capacity, each against the count
    of its own workloads (errors and their counters carry the `workload` tag)."""
    by_workload = store.counter_by("errors_total", "workload", {"kind": "server_capacity"})
    connection_workloads = set(store.counter_by(CONNECTIONS, "workload"))
    on_connections = sum(n for w, n in by_workload.items() if w in connection_workloads)
    on_calls = sum(by_workload.values()) - on_connections
    lines = []
    if on_calls:
        lines.append(f"{on_calls} of {calls(store)} calls were refused for capacity")
    if on_connections:
        opened = store.counter(CONNECTIONS)
        lines.append(f"{on_connections} of {opened} connections were refused for capacity")
    return [line + " (close 1013/1008)" for line in lines]


def check(ev: RunEvidence) -> Finding | None:
    s, m = ev.store, ev.monitor
    refused = errors(s, "server_capacity")
    unavailable = handshake_rejections(s, "503")
    rejected = m.increase("rejected_sessions_total")
    if not (refused or unavailable or rejected):
        return None
    evidence = []
    if refused:
        evidence += refusal_lines(s)
    if unavailable:
        evidence.append(f"{unavailable} handshakes were refused with HTTP 503")
    if rejected:
        evidence.append(f"the backend counted {rejected:.0f} rejected sessions")
    if "active_calls" in m.peak:
        evidence.append(f"active calls peaked at {m.peak['active_calls']:.0f}")
    dropped = s.counter("dropped_iterations")
    if dropped:
        evidence.append(f"{dropped} arrivals found no free virtual user (generator-side queueing)")
    return Finding(
        rule=RULE,
        title="Capacity limit: the backend refused calls beyond its session limit",
        severity="critical",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="Raise max sessions only as far as CPU, memory and the upstream allow; add "
        "instances behind the load balancer, or queue briefly with a spoken hold message.",
    )
