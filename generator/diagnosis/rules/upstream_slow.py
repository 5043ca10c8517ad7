"""upstream_slow: the AI upstream was too slow — the backend timed out waiting for it
(upstream_timeout), a direct Realtime connection timed out, or callers timed out while the
upstream's own latency (p95 per monitor sample) was high."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import errors, p95, server_errors

RULE = "upstream_slow"
SLOW_MS = 2000.0  # upstream p95 in one monitor window (response.create → first audio)
SLOW_SAMPLES = 2  # windows at or above it
FELT_MS = 1500.0  # turn-latency p95 callers must have felt for latency alone to count


def check(ev: RunEvidence) -> Finding | None:
    s, m = ev.store, ev.monitor
    backend_timeouts = server_errors(s, "upstream_timeout") + int(
        m.increase("upstream_timeout_total")
    )
    direct = errors(s, "response_timeout", protocol="realtime") + errors(
        s, "greeting_timeout", protocol="realtime"
    )
    caller_timeouts = errors(s, "response_timeout") + errors(s, "greeting_timeout")
    windows = m.values("upstream_latency_p95_ms", "load") or m.values(
        "realtime_first_delta_p95_ms", "load"
    )
    slow = [w for w in windows if w >= SLOW_MS]
    upstream_slow = len(slow) >= SLOW_SAMPLES
    turn = p95(s)
    felt = turn is not None and turn >= FELT_MS
    if not (backend_timeouts or direct or (upstream_slow and (caller_timeouts or felt))):
        return None
    evidence = []
    if backend_timeouts:
        evidence.append(
            f"the backend timed out waiting for the AI service {backend_timeouts} times"
        )
    if direct:
        evidence.append(f"{direct} direct Realtime sessions timed out waiting for a response")
    if caller_timeouts and not direct:
        evidence.append(f"{caller_timeouts} calls timed out waiting for a response")
    if windows:
        evidence.append(
            f"upstream latency p95 peaked at {max(windows):.0f} ms; {len(slow)} samples at or "
            f"above {SLOW_MS:.0f} ms"
        )
    if turn is not None:
        evidence.append(f"turn latency p95 {turn:.0f} ms")
    return Finding(
        rule=RULE,
        title="Slow upstream: timeouts waiting for the AI service",
        severity="critical" if backend_timeouts or direct or caller_timeouts else "warning",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="Set an explicit upstream timeout with a spoken fallback, stream partial "
        "audio, and check the upstream's status and region latency.",
    )
