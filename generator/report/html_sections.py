"""The text parts of the HTML report, each a function of the summary returning an HTML fragment:
header (target, workloads, load model, seed, duration, verdict, zone), thresholds, diagnosis
findings, percentile table, error breakdown and the monitor's baseline/peak/recovery table.

Formatting only: every figure comes from the Summary (summary_model.py). Every value is
escaped; links point only at local runbook files, by relative path, so the page works with the
network off.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from generator.report.headline import shows_calls, thresholds_verdict, traffic_blocks
from generator.report.summary_model import TREND_COLUMNS, PhaseSamples, Summary

# The recovery checks' columns, in the order the summary writes them.
RECOVERY_COLUMNS = ("key", "baseline", "final", "recovered", "after_s", "growth_pct")


def num(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table of already-escaped cells."""
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f"<th>{h}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows]
    out.append("</tbody></table>")
    return "".join(out)


def _workload_specs(summary: Summary) -> dict[str, dict[str, Any]]:
    """The scenario's workloads as run (its JSON, docs/scenario.md), for target and load model."""
    specs = summary.config.get("workloads") or {}
    return {str(k): v for k, v in specs.items() if isinstance(v, dict)}


def _targets(summary: Summary) -> list[str]:
    found: list[str] = []
    for spec in _workload_specs(summary).values():
        config = spec.get("config") or {}
        for key in ("url", "target", "base_url"):
            if isinstance(config.get(key), str) and config[key] not in found:
                found.append(config[key])
    return found


def _load_model(spec: dict[str, Any]) -> str:
    load = dict(spec.get("load") or {})
    executor = load.pop("executor", "?")
    params = ", ".join(f"{k}={v}" for k, v in load.items() if v not in (None, [], {}))
    return f"{executor} ({params})" if params else str(executor)


def zone_badge(zone: str, prefix: str = "") -> str:
    css = re.sub(r"[^a-z0-9]+", "-", zone.lower())
    return f'<span class="badge zone zone-{css}">{escape(prefix + zone)}</span>'


def verdict_badges(summary: Summary) -> str:
    """The thresholds' verdict and the readiness zone, each badge saying which it is."""
    passed = summary.passed
    words = escape(f"thresholds: {thresholds_verdict(summary)}")
    badge = f'<span class="badge {"pass" if passed else "fail"}">{words}</span>'
    if summary.verdict is not None:
        badge += f" {zone_badge(summary.verdict.zone, 'readiness: ')}"
    return badge


def _traffic_rows(summary: Summary) -> list[tuple[str, str]]:
    """What the run measured: its calls, requests, webhooks or connections."""
    rows: list[tuple[str, str]] = []
    if shows_calls(summary):
        calls, rate = summary.calls, summary.success_rate
        rows.append(
            (
                "calls",
                f"{num(calls.total)} total, {num(calls.succeeded)} succeeded, "
                f"{num(calls.failed)} failed"
                + ("" if rate is None else f" ({rate * 100:.1f} % success)")
                + f" · {num(summary.calls_per_s)}/s",
            )
        )
    for block in traffic_blocks(summary):
        rows.append((block.title.lower(), " · ".join(f"{k.lower()} {v}" for k, v in block.rows)))
    return rows


def header(summary: Summary, title: str | None = None) -> str:
    badge = verdict_badges(summary)
    specs = _workload_specs(summary)
    rows = [
        ("target", ", ".join(_targets(summary)) or "—"),
        ("workloads", ", ".join(f"{n} ({w.type})" for n, w in summary.workloads.items()) or "—"),
        ("load model", "; ".join(f"{n}: {_load_model(s)}" for n, s in specs.items()) or "—"),
        ("seed", num(summary.config.get("seed"))),
        ("duration", f"{num(summary.duration_s)} s"),
        ("status", summary.status),
        ("started", summary.started_at or "—"),
        *_traffic_rows(summary),
        (
            "peak VUs · dropped",
            f"{num(summary.vus_max)} · {num(summary.dropped_iterations)}",
        ),
    ]
    readiness = "" if summary.verdict is None else summary.verdict.readiness
    lines = [
        f"<h1>{escape(title or summary.name)} {badge}</h1>",
        f'<p class="verdict">{escape(readiness)}</p>' if readiness else "",
        _table(["", ""], [[escape(k), escape(v)] for k, v in rows], "meta"),
    ]
    return "".join(lines)


def thresholds(summary: Summary) -> str:
    if not summary.thresholds:
        return '<p class="note">No thresholds.</p>'
    rows = []
    for t in summary.thresholds:
        result = '<span class="ok">pass</span>' if t.ok else '<span class="bad">FAIL</span>'
        note = f" ({escape(t.note)})" if t.note else ""
        rows.append([f"<code>{escape(t.expr)}</code>", num(t.value), result + note])
    return _table(["threshold", "measured", "result"], rows, "thresholds")


def runbook_href(runbook: str, out_dir: Path, runbooks: Path | None = None) -> str | None:
    """A relative link to a local runbook file, or None (URLs stay text: the page is offline).
    ``runbook`` is a finding's runbook id, found as ``RUNBOOKS/ID.md`` in the directory the
    caller keeps them in (``runbooks``; the bench's), or a path: absolute, relative to the
    working directory, or an older summary's path to ``ID.md`` (found by its name)."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", runbook):
        return None
    path, anchor = ([*runbook.split("#", 1), ""])[:2]
    candidates = [Path(path)]
    if runbooks is not None and not Path(path).is_absolute():
        candidates += [runbooks / f"{path}.md", runbooks / Path(path).name]
    for candidate in candidates:
        if candidate.is_file():
            rel = Path(os.path.relpath(candidate, out_dir.resolve())).as_posix()
            return quote(rel) + (f"#{quote(anchor)}" if anchor else "")
    return None


def findings(summary: Summary, out_dir: Path, runbooks: Path | None = None) -> str:
    if summary.findings is None:
        return '<p class="note">No diagnosis in this summary.</p>'
    if not summary.findings:
        return '<p class="note">No findings: no diagnosis rule fired.</p>'
    cards = []
    for f in summary.findings:
        severity = escape(f.severity)
        evidence = "".join(f"<li>{escape(e)}</li>" for e in f.evidence)
        href = runbook_href(f.runbook, out_dir, runbooks) if f.runbook else None
        if href is not None:
            link = f'<a href="{escape(href, quote=True)}">{escape(f.runbook)}</a>'
        else:
            link = f"<code>{escape(f.runbook)}</code>" if f.runbook else "—"
        cards.append(
            f'<div class="finding sev-{severity}"><h3>{escape(f.title)} '
            f'<span class="sev">{severity}</span> <code>{escape(f.rule)}</code>'
            f"</h3><ul>{evidence}</ul><p><b>Runbook:</b> {link}</p>"
            f"<p><b>Next step:</b> {escape(f.next_step or '—')}</p></div>"
        )
    return "".join(cards)


def percentiles(summary: Summary) -> str:
    if not summary.metrics:
        return '<p class="note">No latency recorded.</p>'
    rows = [
        [f"<code>{escape(name)}</code>"] + [num(v) for v in m.cells()]
        for name, m in summary.metrics.items()
    ]
    return _table(["metric (ms)", *TREND_COLUMNS], rows, "numbers")


def errors(summary: Summary) -> str:
    found = summary.errors
    if not found:
        return '<p class="note">No errors.</p>'
    total = sum(found.values()) or 1
    rows = [
        [f"<code>{escape(kind)}</code>", num(n), f"{n / total * 100:.1f} %"]
        for kind, n in sorted(found.items(), key=lambda kv: -kv[1])
    ]
    return _table(["kind", "count", "share"], rows, "numbers")


def targets(summary: Summary) -> str:
    """The verdict's performance-target rows, each in its zone."""
    if summary.verdict is None or not summary.verdict.rows:
        return '<p class="note">No performance targets in this summary.</p>'
    cells = []
    for r in summary.verdict.rows:
        shown = "—" if r.value is None else f"{num(r.value)} {r.unit}".rstrip()
        cells.append([escape(r.label), escape(shown), zone_badge(r.zone), escape(r.reason)])
    return _table(["target", "value", "zone", "reason"], cells, "targets")


def _fig(key: str | None, value: object) -> str:
    """A monitor figure; byte counts in MiB."""
    if (
        str(key).endswith("bytes")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return f"{value / 1048576:,.1f} MiB"
    return num(value)


def _scalar(value: object) -> str:
    if isinstance(value, PhaseSamples):
        return ", ".join(f"{k} {num(v)}" for k, v in value.items())
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {num(v)}" for k, v in value.items())
    return num(value)


def monitor_table(summary: Summary) -> str:
    """The monitor's figures: one table of per-phase values (baseline, peak, final; those with
    any), one of recovery checks, one of the rest."""
    monitor = summary.monitor
    if monitor is None or not monitor.available:
        return '<p class="note">No target monitor in this run.</p>'
    phases = [(name, values) for name, values in monitor.phases() if values]
    empty = [(name, values) for name, values in monitor.phases() if not values]
    out = []
    if phases:
        keys = list(dict.fromkeys(k for _, values in phases for k in values))
        rows = [[f"<code>{escape(k)}</code>"] + [_fig(k, values.get(k)) for _, values in phases]
                for k in keys]  # fmt: skip
        out.append(_table(["figure", *(escape(name) for name, _ in phases)], rows, "numbers"))
    rows = []
    for name, r in monitor.recovery.items():
        # A check's baseline and final are in the unit of the key it measured.
        cells = zip(RECOVERY_COLUMNS, (r.key, r.baseline, r.final, r.recovered, r.after_s,
                    r.growth_pct), strict=True)  # fmt: skip
        rows.append(
            [escape(f"recovery: {name}")]
            + [escape(_fig(r.key if c in ("baseline", "final") else c, v)) for c, v in cells]
        )
    out.append(_table(["check", *RECOVERY_COLUMNS], rows, "numbers"))
    rest: list[tuple[str, object]] = [
        ("available", monitor.available),
        ("samples", monitor.samples),
        ("load_end_t", monitor.load_end_t),
        *empty,
        ("backend_down_samples", monitor.backend_down_samples),
    ]
    rows = [[f"<code>{escape(k)}</code>", escape(_scalar(v))] for k, v in rest]
    out.append(_table(["figure", "value"], rows, "numbers"))
    return "".join(out)
