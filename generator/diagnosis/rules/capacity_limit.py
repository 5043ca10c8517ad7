"""capacity_limit: the backend turned calls away — closes 1008/1013 or `capacity` errors
(server_capacity), its rejected_sessions_total, or handshakes refused with HTTP 503."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import calls, errors, handshake_rejections

RULE = "capacity_limit"


def check(ev: RunEvidence) -> Finding | None:
    s, m = ev.store, ev.monitor
    refused = errors(s, "server_capacity")
    unavailable = handshake_rejections(s, "503")
    rejected = m.increase("rejected_sessions_total")
    if not (refused or unavailable or rejected):
        return None
    evidence = []
    if refused:
        evidence.append(
            f"{refused} of {calls(s)} calls were refused for capacity (close 1013/1008)"
        )
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
