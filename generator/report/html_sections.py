"""The text parts of the HTML report, each a function of the summary returning an HTML fragment:
header (target, workloads, load model, seed, duration, verdict, zone), thresholds, diagnosis
findings, percentile table, error breakdown and the monitor's baseline/peak/recovery table.

Formatting only: every figure comes from the summary dict. Every value is escaped; links point
only at local runbook files, by relative path, so the page works with the network off.
"""

from __future__ import annotations

import os
import re
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import bench

RUNBOOKS = Path(bench.__file__).resolve().parent / "runbooks"
REPO = Path(bench.__file__).resolve().parents[1]
PERCENTILE_COLUMNS = ("count", "min", "avg", "p50", "p90", "p95", "p99", "max")


def num(value: Any) -> str:
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


def _workload_specs(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    specs = (summary.get("config") or {}).get("workloads") or {}
    return {str(k): v for k, v in specs.items() if isinstance(v, dict)}


def _targets(summary: dict[str, Any]) -> list[str]:
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


def header(summary: dict[str, Any], title: str | None = None) -> str:
    passed = bool(summary.get("passed"))
    badge = (
        f'<span class="badge {"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</span>'
    )
    zone = summary.get("zone")
    if zone is not None:
        badge += f" {zone_badge(str(zone), 'zone: ')}"
    specs = _workload_specs(summary)
    workloads = summary.get("workloads") or {}
    calls = summary.get("calls") or {}
    rate = summary.get("success_rate")
    rows = [
        ("target", ", ".join(_targets(summary)) or "—"),
        ("workloads", ", ".join(f"{n} ({w.get('type')})" for n, w in workloads.items()) or "—"),
        ("load model", "; ".join(f"{n}: {_load_model(s)}" for n, s in specs.items()) or "—"),
        ("seed", num((summary.get("config") or {}).get("seed"))),
        ("duration", f"{num(summary.get('duration_s'))} s"),
        ("status", str(summary.get("status", "?"))),
        ("started", str(summary.get("started_at") or "—")),
        (
            "calls",
            f"{num(calls.get('total'))} total, {num(calls.get('succeeded'))} succeeded, "
            f"{num(calls.get('failed'))} failed"
            + ("" if rate is None else f" ({rate * 100:.1f} % success)"),
        ),
        (
            "calls/s · peak VUs · dropped",
            f"{num(summary.get('calls_per_s'))} · "
            f"{num(summary.get('vus_max'))} · {num(summary.get('dropped_iterations'))}",
        ),
    ]
    verdict = summary.get("readiness") or summary.get("verdict")
    lines = [
        f"<h1>{escape(title or str(summary.get('name', 'run')))} {badge}</h1>",
        f'<p class="verdict">{escape(str(verdict))}</p>' if isinstance(verdict, str) else "",
        _table(["", ""], [[escape(k), escape(v)] for k, v in rows], "meta"),
    ]
    return "".join(lines)


def thresholds(summary: dict[str, Any]) -> str:
    items = summary.get("thresholds") or []
    if not items:
        return '<p class="note">No thresholds.</p>'
    rows = []
    for t in items:
        result = '<span class="ok">pass</span>' if t.get("ok") else '<span class="bad">FAIL</span>'
        note = f" ({escape(str(t['note']))})" if t.get("note") else ""
        rows.append(
            [f"<code>{escape(str(t.get('expr')))}</code>", num(t.get("value")), result + note]
        )
    return _table(["threshold", "measured", "result"], rows, "thresholds")


def runbook_href(runbook: str, out_dir: Path) -> str | None:
    """A relative link to a local runbook file, or None (URLs stay text: the page is offline)."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", runbook):
        return None
    path, anchor = ([*runbook.split("#", 1), ""])[:2]
    candidates = (
        [Path(path)]
        if Path(path).is_absolute()
        else [REPO / path, RUNBOOKS / path, RUNBOOKS / f"{path}.md"]
    )
    for candidate in candidates:
        if candidate.is_file():
            rel = Path(os.path.relpath(candidate, out_dir.resolve())).as_posix()
            return quote(rel) + (f"#{quote(anchor)}" if anchor else "")
    return None


def findings(summary: dict[str, Any], out_dir: Path) -> str:
    if "findings" not in summary:
        return '<p class="note">No diagnosis in this summary.</p>'
    items = summary.get("findings") or []
    if not items:
        return '<p class="note">No findings: no diagnosis rule fired.</p>'
    cards = []
    for f in items:
        severity = escape(str(f.get("severity", "info")))
        evidence = "".join(f"<li>{escape(str(e))}</li>" for e in f.get("evidence") or [])
        runbook = str(f.get("runbook") or "")
        href = runbook_href(runbook, out_dir) if runbook else None
        if href is not None:
            link = f'<a href="{escape(href, quote=True)}">{escape(runbook)}</a>'
        else:
            link = f"<code>{escape(runbook)}</code>" if runbook else "—"
        cards.append(
            f'<div class="finding sev-{severity}"><h3>{escape(str(f.get("title", "")))} '
            f'<span class="sev">{severity}</span> <code>{escape(str(f.get("rule", "")))}</code>'
            f"</h3><ul>{evidence}</ul><p><b>Runbook:</b> {link}</p>"
            f"<p><b>Next step:</b> {escape(str(f.get('next_step') or '—'))}</p></div>"
        )
    return "".join(cards)


def percentiles(summary: dict[str, Any]) -> str:
    metrics = summary.get("metrics") or {}
    if not metrics:
        return '<p class="note">No latency recorded.</p>'
    rows = [
        [f"<code>{escape(name)}</code>"] + [num(m.get(c)) for c in PERCENTILE_COLUMNS]
        for name, m in metrics.items()
    ]
    return _table(["metric (ms)", *PERCENTILE_COLUMNS], rows, "numbers")


def errors(summary: dict[str, Any]) -> str:
    found = summary.get("errors") or {}
    if not found:
        return '<p class="note">No errors.</p>'
    total = sum(found.values()) or 1
    rows = [
        [f"<code>{escape(str(kind))}</code>", num(n), f"{n / total * 100:.1f} %"]
        for kind, n in sorted(found.items(), key=lambda kv: -kv[1])
    ]
    return _table(["kind", "count", "share"], rows, "numbers")


def targets(summary: dict[str, Any]) -> str:
    """The verdict's performance-target rows, each in its zone."""
    rows = summary.get("verdict")
    if not isinstance(rows, list) or not rows:
        return '<p class="note">No performance targets in this summary.</p>'
    cells = []
    for r in rows:
        value = r.get("value")
        shown = "—" if value is None else f"{num(value)} {r.get('unit') or ''}".rstrip()
        cells.append(
            [escape(str(r.get("label", r.get("target", "")))), escape(shown),
             zone_badge(str(r.get("zone", "n/a"))), escape(str(r.get("reason", "")))]
        )  # fmt: skip
    return _table(["target", "value", "zone", "reason"], cells, "targets")


def _fig(key: Any, value: Any) -> str:
    """A monitor figure; byte counts in MiB."""
    if (
        str(key).endswith("bytes")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return f"{value / 1048576:,.1f} MiB"
    return num(value)


def _scalar(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {num(v)}" for k, v in value.items())
    return num(value)


def monitor_table(summary: dict[str, Any]) -> str:
    """The monitor's figures: one table of per-phase values (baseline, peak, final), one of
    recovery checks, one of the rest."""
    monitor = summary.get("monitor")
    if not isinstance(monitor, dict) or not monitor or monitor.get("available") is False:
        return '<p class="note">No target monitor in this run.</p>'

    def is_flat(v: Any) -> bool:
        return isinstance(v, dict) and bool(v) and not any(isinstance(x, dict) for x in v.values())

    phases = [k for k, v in monitor.items() if is_flat(v) and k != "samples"]
    nested = [k for k, v in monitor.items() if isinstance(v, dict) and v and not is_flat(v)]
    rest = [k for k in monitor if k not in phases and k not in nested]
    out = []
    if phases:
        keys = list(dict.fromkeys(k for p in phases for k in monitor[p]))
        rows = [[f"<code>{escape(k)}</code>"] + [_fig(k, monitor[p].get(k)) for p in phases]
                for k in keys]  # fmt: skip
        out.append(_table(["figure", *map(escape, phases)], rows, "numbers"))
    for name in nested:
        inner = {k: v for k, v in monitor[name].items() if isinstance(v, dict)}
        cols = list(dict.fromkeys(c for v in inner.values() for c in v))
        rows = []
        for k, v in inner.items():
            # A check's baseline and final are in the unit of the key it measured.
            unit_of = {c: v.get("key") if c in ("baseline", "final") else c for c in cols}
            rows.append(
                [escape(f"{name}: {k}")] + [escape(_fig(unit_of[c], v.get(c))) for c in cols]
            )
        out.append(_table(["check", *map(escape, cols)], rows, "numbers"))
    if rest:
        rows = [[f"<code>{escape(k)}</code>", escape(_scalar(monitor[k]))] for k in rest]
        out.append(_table(["figure", "value"], rows, "numbers"))
    return "".join(out)
