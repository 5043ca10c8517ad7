"""report.md's sections for the target monitor (baseline / peak / recovery), the performance
targets with their zones, and the diagnosis findings. Formatting only."""

from __future__ import annotations

from generator.report.summary_model import Summary

# The monitor keys report.md tables, in order (the rest stay in summary.json / monitor.jsonl).
SHOWN_KEYS = (
    "cpu_percent",
    "rss_bytes",
    "active_calls",
    "pool_size",
    "pool_waiting",
    "pg_total",
    "pg_max_connections",
    "upstream_latency_p95_ms",
)
ZONE_ICON = {"green": "🟢 green", "yellow": "🟡 yellow", "red": "🔴 red", "n/a": "⚪ n/a"}


def _fig(key: str, value: float | None) -> str:
    if value is None:
        return "—"
    if key == "rss_bytes":
        return f"{value / 2**20:,.1f} MB"
    return (
        f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{value:,.0f}"
    )


def monitor_section(summary: Summary) -> list[str]:
    monitor = summary.monitor
    if monitor is None or not monitor.available:
        return []
    counts = ", ".join(f"{n} {phase}" for phase, n in monitor.samples.items())
    out = ["## Target monitor", "", f"Samples: {counts}.", ""]
    base, peak, final = monitor.baseline, monitor.peak, monitor.final
    keys = [k for k in SHOWN_KEYS if k in base or k in peak or k in final]
    if keys:
        out += ["| metric | baseline | peak under load | final |", "| --- | --- | --- | --- |"]
        out += [
            f"| {k} | {_fig(k, base.get(k))} | {_fig(k, peak.get(k))} | {_fig(k, final.get(k))} |"
            for k in keys
        ]
        out.append("")
    if monitor.backend_down_samples:
        out += [f"The backend was down in {monitor.backend_down_samples} samples.", ""]
    out += ["| recovery | measured | baseline | final | growth | result |"]
    out.append("| --- | --- | --- | --- | --- | --- |")
    for name, r in monitor.recovery.items():
        if r.recovered is None:
            result = "not measured"
        elif r.recovered:
            result = f"recovered after {r.after_s or 0.0:.1f} s"
        else:
            result = "**not recovered**"
        growth = "—" if r.growth_pct is None else f"{r.growth_pct:+.1f} %"
        out.append(
            f"| {name} | {r.key or '—'} | {_fig(r.key or '', r.baseline)} | "
            f"{_fig(r.key or '', r.final)} | {growth} | {result} |"
        )
    return [*out, ""]


def targets_section(summary: Summary) -> list[str]:
    verdict = summary.verdict
    if verdict is None or not verdict.rows:
        return []
    out = [
        "## Performance targets",
        "",
        f"Zone: **{ZONE_ICON[verdict.zone]}** — {verdict.readiness}.",
        "",
        "| target | value | zone | reason |",
        "| --- | --- | --- | --- |",
    ]
    for r in verdict.rows:
        value = "—" if r.value is None else f"{r.value:,.1f} {r.unit}".rstrip()
        out.append(f"| {r.label} | {value} | {ZONE_ICON[r.zone]} | {r.reason} |")
    return [*out, ""]


def findings_section(summary: Summary) -> list[str]:
    findings = summary.findings
    if findings is None:
        return []
    out = ["## Findings", ""]
    if not findings:
        return [*out, "No failure mode diagnosed.", ""]
    for f in findings:
        out += [f"### {f.title} (`{f.rule}`, {f.severity})", ""]
        out += [f"- {e}" for e in f.evidence]
        out += ["", f"**Next step:** {f.next_step}", "", f"Runbook: `{f.runbook}`", ""]
    return out
