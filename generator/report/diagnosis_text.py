"""Plain-text lines for the verdict, the findings and the monitor's recovery, shared by the
terminal summary and junit.xml's system-out. Formatting only: every figure comes from the
Summary (older summaries without these sections give no lines)."""

from __future__ import annotations

from generator.report.summary_model import Summary

ZONE_MARK = {"green": "GREEN ", "yellow": "YELLOW", "red": "RED   ", "n/a": "n/a   "}


def value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:,.0f} ms"
    return f"{value:.1f}{unit}"


def verdict_lines(summary: Summary) -> list[str]:
    verdict = summary.verdict
    if verdict is None or not verdict.rows:
        return []
    lines = [f"PERFORMANCE TARGETS: zone {verdict.zone.upper()} — {verdict.readiness}"]
    for r in verdict.rows:
        lines.append(
            f"  {ZONE_MARK[r.zone]} {r.label:<30} {value_text(r.value, r.unit):>10}  {r.reason}"
        )
    return lines


def figure(key: str | None, value: float | None) -> str:
    if value is None:
        return "-"
    if key == "rss_bytes":
        return f"{value / 2**20:,.1f} MB"
    return f"{value:,.0f}"


def recovery_lines(summary: Summary) -> list[str]:
    monitor = summary.monitor
    if monitor is None or not monitor.available:
        return []
    counts = ", ".join(f"{phase} {n}" for phase, n in monitor.samples.items())
    head = f"TARGET MONITOR (samples: {counts})"
    if monitor.backend_down_samples:
        head += f"; backend down in {monitor.backend_down_samples} samples"
    lines = [head]
    for name, r in monitor.recovery.items():
        if r.key is None:
            continue
        if r.recovered is None:
            state = "not measured"
        elif r.recovered:
            state = f"recovered after {r.after_s or 0.0:.1f}s"
        else:
            state = "NOT recovered"
        growth = "" if r.growth_pct is None else f" ({r.growth_pct:+.1f}%)"
        lines.append(
            f"  {name:<16} baseline {figure(r.key, r.baseline)} → "
            f"{figure(r.key, r.final)}{growth}: {state}"
        )
    return lines


def finding_lines(summary: Summary) -> list[str]:
    findings = summary.findings
    if findings is None:
        return []
    if not findings:
        return ["FINDINGS: none"]
    lines = [f"FINDINGS ({len(findings)})"]
    for f in findings:
        lines.append(f"  [{f.severity}] {f.rule}: {f.title}")
        lines += [f"      - {e}" for e in f.evidence]
        lines.append(f"      next: {f.next_step}")
        lines.append(f"      runbook: {f.runbook}")
    return lines
