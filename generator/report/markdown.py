"""report.md: the seed's report template — summary, configuration, results table, latency
percentiles, error breakdown, thresholds, target monitor, performance targets, findings,
verdict. Formatting only."""

from __future__ import annotations

import json

from generator.report.headline import (
    readiness_verdict,
    shows_calls,
    thresholds_verdict,
    traffic_blocks,
)
from generator.report.markdown_diagnosis import findings_section, monitor_section, targets_section
from generator.report.summary_model import TREND_COLUMNS, Summary


def _cell(value: float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return str(value)


def _verdicts(summary: Summary) -> str:
    """Both verdicts by name: the thresholds' (the exit code) and the readiness zone's."""
    out = f"**Thresholds: {thresholds_verdict(summary)}**"
    judged = summary.verdict
    if judged is not None:
        out += f" · **Readiness: zone {judged.zone}** — {judged.readiness}"
    return out


def _figures(summary: Summary) -> list[str]:
    calls = summary.calls
    rate = summary.success_rate
    rows: list[str] = []
    if shows_calls(summary):
        rows += [
            f"| total calls | {calls.total} |",
            f"| succeeded | {calls.succeeded} |",
            f"| failed | {calls.failed} |",
            f"| success rate | {'—' if rate is None else f'{rate * 100:.1f}%'} |",
        ]
    for block in traffic_blocks(summary):
        rows += [f"| {label.lower()} | {value} |" for label, value in block.rows]
    rows.append(f"| duration | {summary.duration_s:.1f} s |")
    if shows_calls(summary):
        rows.append(f"| calls/s | {summary.calls_per_s:.2f} |")
    return [
        *rows,
        f"| iterations | {summary.iterations} |",
        f"| dropped iterations | {summary.dropped_iterations} |",
        f"| peak VUs | {summary.vus_max} |",
    ]


def render_markdown(summary: Summary) -> str:
    out = [
        f"# Load test results — {summary.name}",
        "",
        f"{_verdicts(summary)} · status {summary.status} · started {summary.started_at}",
        "",
        "## Summary",
        "",
        "| figure | value |",
        "| --- | --- |",
        *_figures(summary),
        "",
        "## Configuration",
        "",
        "| workload | type | load model | max VUs |",
        "| --- | --- | --- | --- |",
    ]
    for name, w in summary.workloads.items():
        out.append(f"| {name} | {w.type} | {w.executor} | {w.max_vus} |")
    out += ["", "```json", json.dumps(summary.config, indent=2, sort_keys=True), "```", ""]
    out += [
        "## Latency percentiles (ms)",
        "",
        "| metric | " + " | ".join(TREND_COLUMNS) + " |",
        "| --- | " + " | ".join("---" for _ in TREND_COLUMNS) + " |",
    ]
    for name, m in summary.metrics.items():
        out.append(f"| {name} | " + " | ".join(_cell(c) for c in m.cells()) + " |")
    out += ["", "## Error breakdown", ""]
    if summary.errors:
        out += ["| kind | count |", "| --- | --- |"]
        out += [f"| {kind} | {n} |" for kind, n in summary.errors.items()]
    else:
        out.append("No errors.")
    out += ["", "## Thresholds", "", "| threshold | value | result |", "| --- | --- | --- |"]
    for t in summary.thresholds:
        note = f" ({t.note})" if t.note else ""
        out.append(f"| `{t.expr}` | {_cell(t.value)} | {'pass' if t.ok else 'FAIL'}{note} |")
    out.append("")
    out += monitor_section(summary) + targets_section(summary) + findings_section(summary)
    out += ["## Verdict", "", f"- Thresholds: **{thresholds_verdict(summary)}**"]
    readiness = readiness_verdict(summary)
    if readiness is not None:
        out.append(f"- Readiness: **{readiness}**")
    out.append("")
    return "\n".join(out)
