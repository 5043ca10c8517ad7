"""The terminal summary (the seed script's "LOAD TEST RESULTS" block) and the live progress
line. Formatting only: every figure comes from the Summary (summary_model.py)."""

from __future__ import annotations

from generator.report.diagnosis_text import finding_lines, recovery_lines, verdict_lines
from generator.report.headline import (
    readiness_verdict,
    shows_calls,
    thresholds_verdict,
    traffic_blocks,
)
from generator.report.summary import LiveFigures
from generator.report.summary_model import Summary

RULE = "=" * 64


def _row(label: str, value: object) -> str:
    return f"{label + ':':<20}{value}"


def render_terminal(summary: Summary) -> str:
    calls = summary.calls
    rate = summary.success_rate
    lines = [
        RULE,
        f"LOAD TEST RESULTS — {summary.name}"
        + ("" if summary.status == "completed" else f" ({summary.status.upper()})"),
        RULE,
    ]
    if shows_calls(summary):
        lines += [
            _row("Total calls", calls.total),
            _row("Succeeded", calls.succeeded),
            _row("Failed", calls.failed),
            _row("Success rate", "-" if rate is None else f"{rate * 100:.1f}%"),
        ]
    blocks = traffic_blocks(summary)
    for traffic in blocks:
        if len(blocks) > 1 or shows_calls(summary):
            lines.append(traffic.title.upper())
        lines += [_row(label, value) for label, value in traffic.rows]
    lines.append(_row("Duration", f"{summary.duration_s:.1f}s"))
    if shows_calls(summary):
        lines.append(_row("Calls/s", f"{summary.calls_per_s:.2f}"))
    lines += [
        _row("Peak VUs", summary.vus_max),
        _row("Dropped iterations", summary.dropped_iterations),
    ]
    if summary.metrics:
        lines += ["", "LATENCY (ms)        count      p50      p90      p95      p99      max"]
        for name, m in summary.metrics.items():
            lines.append(
                f"  {name:<16} {m.count:>7} {m.p50:>8.0f} {m.p90:>8.0f} "
                f"{m.p95:>8.0f} {m.p99:>8.0f} {m.max:>8.0f}"
            )
    lines += ["", "ERROR BREAKDOWN"]
    if summary.errors:
        lines += [f"  {kind:<28} {n:>6}" for kind, n in summary.errors.items()]
    else:
        lines.append("  none")
    lines += ["", "THRESHOLDS"]
    for t in summary.thresholds:
        value = "no data" if t.value is None else f"{t.value:.4g}"
        lines.append(f"  {'✓' if t.ok else '✗'} {t.expr:<40} {value}")
    if not summary.thresholds:
        lines.append("  none")
    for block in (recovery_lines(summary), verdict_lines(summary), finding_lines(summary)):
        if block:
            lines += ["", *block]
    lines += [RULE, f"THRESHOLDS: {thresholds_verdict(summary)}"]
    readiness = readiness_verdict(summary)
    if readiness is not None:
        lines.append(f"READINESS:  {readiness}")
    lines.append(RULE)
    return "\n".join(lines)


def live_traffic(figures: LiveFigures) -> list[str]:
    """The live figures of the traffic the run sends (calls, requests, webhooks, connections)."""
    parts = []
    if figures.makes_calls:
        parts.append(f"calls ok {figures.succeeded} failed {figures.failed}")
    if figures.requests:
        parts.append(f"requests {figures.requests}")
    if figures.webhooks:
        parts.append(f"webhooks {figures.webhooks}")
    if figures.connections or figures.open_connections:
        parts.append(f"connections open {figures.open_connections} ended {figures.connections}")
    return parts


def render_progress(figures: LiveFigures) -> str:
    p95 = figures.turn_p95_ms
    return (
        f"{figures.elapsed_s:6.1f}s  vus {figures.vus:>4}  "
        + "".join(part + "  " for part in live_traffic(figures))
        + f"iterations {figures.iterations}  errors {figures.errors}  "
        f"dropped {figures.dropped}  {figures.latency} p95 "
        + ("-" if p95 is None else f"{p95:.0f}ms")
    )
