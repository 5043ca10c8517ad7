"""memory_leak: resident memory did not come back to baseline after the cooldown (more than
20 % above it, and by a meaningful amount), with the growth per call the run caused."""

from __future__ import annotations

from generator.diagnosis.finding import Finding, RunEvidence, runbook
from generator.diagnosis.signals import calls

RULE = "memory_leak"
MIN_GROWTH_BYTES = 5 * 2**20  # below this, allocator noise on a small process


def mb(value: float) -> str:
    return f"{value / 2**20:.1f} MB"


def check(ev: RunEvidence) -> Finding | None:
    m = ev.monitor
    memory = m.memory_recovery()
    if memory.recovered is not False or memory.baseline is None or memory.final is None:
        return None
    growth = memory.final - memory.baseline
    if growth < MIN_GROWTH_BYTES:
        return None
    cooldown = m.phase("cooldown")
    waited = float(cooldown[-1]["t"]) - float(cooldown[0]["t"]) if cooldown else 0.0
    evidence = [
        f"RSS baseline {mb(memory.baseline)}, peak {mb(m.peak.get('rss_bytes', memory.final))}, "
        f"{mb(memory.final)} after {waited:.0f} s of cooldown "
        f"({memory.growth_pct:+.0f} %, tolerance {m.memory_tolerance * 100:.0f} %)",
    ]
    n = calls(ev.store)
    if n:
        evidence.append(f"about {growth / n / 1024:.1f} KB kept per call over {n} calls")
    db = m.db_recovery()
    if db.recovered is False:
        evidence.append(
            f"DB connections also stayed at {db.final:.0f} (baseline {db.baseline:.0f})"
        )
    return Finding(
        rule=RULE,
        title="Memory leak: memory was not released after load",
        severity="critical",
        evidence=evidence,
        runbook=runbook(RULE),
        next_step="Compare heap snapshots before and after a batch of calls; look for per-call "
        "state (transcripts, sockets, listeners) kept after the call ends.",
    )
