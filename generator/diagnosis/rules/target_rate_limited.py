"""target_rate_limited: the system under test itself answered HTTP 429 — its own per-endpoint
limits (webhooks, API, auth) refused the load, as distinct from the AI upstream's 429s
(upstream_rate_limited) and from admission control on calls (capacity_limit)."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import errors

RULE = "target_rate_limited"
CRITICAL_SHARE = 0.05  # of the HTTP requests and webhooks sent


def check(ev: RunEvidence) -> Finding | None:
    s = ev.store
    refused = errors(s, "http_429")  # both the http and the webhooks workloads record it
    if not refused:
        return None
    sent = s.counter("webhooks_total") + s.counter("http_reqs")
    share = refused / sent if sent else 1.0
    evidence = [f"{refused} of {sent} requests were answered 429 Too Many Requests"]
    webhooks = s.counter("webhook_429")
    if webhooks:
        evidence.append(f"{webhooks} of them were webhooks (telephony callbacks lost or retried)")
    return Finding(
        rule=RULE,
        title="The target's own rate limit refused requests (HTTP 429)",
        severity="critical" if share >= CRITICAL_SHARE else "warning",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="Size the endpoint's limit for the provider's burst (webhooks arrive in "
        "storms), or queue and acknowledge at once; a 429 to a telephony callback loses the event.",
    )
