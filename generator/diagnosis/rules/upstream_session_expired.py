"""upstream_session_expired: the AI upstream ended sessions at their maximum duration (OpenAI:
60 minutes, an `error` `session_expired` and a close 1001) and the calls on them were lost —
callers told `upstream_session_expired` by the backend, or a direct Realtime caller told
`session_expired`. A backend that opens a new session and carries the conversation over shows
nothing here: its callers never notice."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import calls, server_errors

RULE = "upstream_session_expired"
CODES = ("upstream_session_expired", "session_expired")
CRITICAL_SHARE = 0.05  # of calls


def check(ev: RunEvidence) -> Finding | None:
    s = ev.store
    told = {code: server_errors(s, code) for code in CODES}
    total = sum(told.values())
    if not total:
        return None
    evidence = [f"{n} calls were told {code}" for code, n in told.items() if n]
    n = calls(s)
    share = total / n if n else 1.0
    if n:
        evidence.append(f"{total} of {n} calls lost when their upstream session ended")
    return Finding(
        rule=RULE,
        title="Upstream session expired: calls outlived the AI session and were dropped",
        severity="critical" if share >= CRITICAL_SHARE else "warning",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="On session_expired or a close 1001, open a new upstream session at once, "
        "tell it the conversation so far and replay the caller's uncommitted audio; or end "
        "calls cleanly before the provider's maximum duration.",
    )
