"""upstream_rate_limited: the AI upstream answered with 429s — calls told
upstream_rate_limited, the backend's upstream_errors_total{kind=rate_limited}, 429 handshakes of
a direct Realtime connection, or the upstream's own rate-limit counters.

When the target side counted 429s but no caller was told or refused (retries with backoff
absorbed every one), the finding is `info`: the provider is pushing back and the backend coped —
worth watching, not the cause of anything the callers saw."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import calls, handshake_rejections, server_errors

RULE = "upstream_rate_limited"
CRITICAL_SHARE = 0.05  # of calls affected


def check(ev: RunEvidence) -> Finding | None:
    s, m = ev.store, ev.monitor
    told = server_errors(s, "upstream_rate_limited") + server_errors(s, "rate_limit_exceeded")
    handshakes = handshake_rejections(s, "429")
    backend = m.increase("upstream_rate_limited_total")
    upstream = m.increase("realtime_rate_limited_total") + m.increase(
        "realtime_handshake_429_total"
    )
    if not (told or handshakes or backend or upstream):
        return None
    evidence = []
    if told:
        evidence.append(f"{told} calls were told the AI service is rate limiting")
    if handshakes:
        evidence.append(f"{handshakes} Realtime handshakes were refused with HTTP 429")
    if backend:
        evidence.append(f"the backend counted {backend:.0f} upstream errors of kind rate_limited")
    if upstream:
        evidence.append(f"the upstream counted {upstream:.0f} rate-limit responses or 429s")
    n = calls(s)
    hurt = told + handshakes
    if not hurt:
        evidence.append("no caller was told or refused: retries absorbed every 429")
        return Finding(
            rule=RULE,
            title="Upstream 429s absorbed: retries hid them from every caller",
            severity="info",
            evidence=evidence,
            runbook=runbook(RULE),
            next_step="Nothing failed; watch the 429 rate (retries add latency and load on the "
            "provider) and keep sessions below the account's limits.",
        )
    share = hurt / n if n else 0.0
    return Finding(
        rule=RULE,
        title="Upstream rate limiting: the AI service answered 429",
        severity="critical" if share >= CRITICAL_SHARE else "warning",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="Retry with exponential backoff and jitter honouring Retry-After, cap "
        "concurrent sessions below the account's limits, and ask for a higher tier.",
    )
