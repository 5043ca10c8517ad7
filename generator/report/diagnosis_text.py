"""Plain-text lines for the verdict, the findings and the monitor's recovery, shared by the
terminal summary and junit.xml's system-out. Formatting only: every figure comes from the
summary dict (older summaries without these sections give no lines)."""

from __future__ import annotations

from typing import Any

ZONE_MARK = {"green": "GREEN ", "yellow": "YELLOW", "red": "RED   ", "n/a": "n/a   "}


def value_text(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:,.0f} ms"
    return f"{value:.1f}{unit}"


def verdict_lines(summary: dict[str, Any]) -> list[str]:
    rows = summary.get("verdict")
    if not rows:
        return []
    lines = [f"VERDICT: {str(summary.get('zone', 'n/a')).upper()} — {summary.get('readiness')}"]
    for r in rows:
        lines.append(
            f"  {ZONE_MARK.get(r['zone'], r['zone'])} {r['label']:<30} "
            f"{value_text(r['value'], r['unit']):>10}  {r['reason']}"
        )
    return lines


def figure(key: str | None, value: float | None) -> str:
    if value is None:
        return "-"
    if key == "rss_bytes":
        return f"{value / 2**20:,.1f} MB"
    return f"{value:,.0f}"


def recovery_lines(summary: dict[str, Any]) -> list[str]:
    monitor = summary.get("monitor") or {}
    if not monitor.get("available"):
        return []
    counts = ", ".join(f"{phase} {n}" for phase, n in monitor.get("samples", {}).items())
    head = f"TARGET MONITOR (samples: {counts})"
    if monitor.get("backend_down_samples"):
        head += f"; backend down in {monitor['backend_down_samples']} samples"
    lines = [head]
    for name, r in monitor.get("recovery", {}).items():
        key = r.get("key")
        if key is None:
            continue
        if r.get("recovered") is None:
            state = "not measured"
        elif r["recovered"]:
            state = f"recovered after {r['after_s']:.1f}s"
        else:
            state = "NOT recovered"
        growth = "" if r.get("growth_pct") is None else f" ({r['growth_pct']:+.1f}%)"
        lines.append(
            f"  {name:<16} baseline {figure(key, r.get('baseline'))} → "
            f"{figure(key, r.get('final'))}{growth}: {state}"
        )
    return lines


def finding_lines(summary: dict[str, Any]) -> list[str]:
    findings = summary.get("findings")
    if findings is None:
        return []
    if not findings:
        return ["FINDINGS: none"]
    lines = [f"FINDINGS ({len(findings)})"]
    for f in findings:
        lines.append(f"  [{f['severity']}] {f['rule']}: {f['title']}")
        lines += [f"      - {e}" for e in f["evidence"]]
        lines.append(f"      next: {f['next_step']}")
        lines.append(f"      runbook: {f['runbook']}")
    return lines
