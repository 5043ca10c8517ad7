"""barge_in_ignored: callers who started speaking over the assistant were talked over — the
assistant's audio went on past the bound (`barge_in_ignored`, counted by the caller: Twilio sent
no `clear`, the native or Realtime response was not cancelled).

Needs barge-ins in the load (`barge_in` in the call config, `--barge-in P`); without them the
rule has nothing to read and stays silent."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook

RULE = "barge_in_ignored"
CRITICAL_SHARE = 0.5  # of the barge-ins


def check(ev: RunEvidence) -> Finding | None:
    s = ev.store
    ignored = s.counter("barge_in_ignored")
    if not ignored:
        return None
    reactions = s.trend("barge_in_reaction")
    handled = reactions.count
    share = ignored / (ignored + handled)
    evidence = [
        f"{ignored} of {ignored + handled} barge-ins were talked over: the assistant kept "
        "talking past the bound after the caller began"
    ]
    if handled:
        evidence.append(
            f"the other {handled} were stopped, in {reactions.p(50):.0f} ms at the median"
        )
    else:
        evidence.append("no barge-in stopped the assistant (no clear, no cancelled response)")
    return Finding(
        rule=RULE,
        title="Barge-in ignored: callers who interrupt are talked over",
        severity="critical" if share >= CRITICAL_SHARE else "warning",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="On the upstream's input_audio_buffer.speech_started while the assistant "
        "speaks, send Twilio `clear` and `conversation.item.truncate` with the audio the caller "
        "heard, and keep the model's interrupt_response on.",
    )
