"""upstream_api_refused: the AI upstream refused the protocol the system speaks — OpenAI answers
a session opened in the retired beta shape (`OpenAI-Beta: realtime=v1`) with an `error` event
`beta_api_shape_disabled` and a close 4000. Callers told `upstream_api_refused` by the backend,
or a direct Realtime caller told `beta_api_shape_disabled`."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import calls, server_errors

RULE = "upstream_api_refused"
CODES = ("upstream_api_refused", "beta_api_shape_disabled")


def check(ev: RunEvidence) -> Finding | None:
    s = ev.store
    told = {code: server_errors(s, code) for code in CODES}
    total = sum(told.values())
    if not total:
        return None
    evidence = [f"{n} calls were told {code}" for code, n in told.items() if n]
    n = calls(s)
    if n:
        evidence.append(f"{total} of {n} calls failed on it: every session, not a share")
    return Finding(
        rule=RULE,
        title="Upstream API shape refused: the AI service no longer serves the beta protocol",
        severity="critical",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="Speak the GA Realtime protocol: drop the `OpenAI-Beta: realtime=v1` header, "
        "send session.type=realtime with audio.input/audio.output, and read the renamed "
        "events (response.output_audio.delta, response.output_audio_transcript.delta, "
        "conversation.item.added).",
    )
