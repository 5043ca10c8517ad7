"""RUN_DIR/report.html: one self-contained page per run (styles and SVG charts inlined, no
script, no external URL), and the side-by-side page of a drill's before/after runs.

    render_run_html(run_dir, summary=None, rows=None) -> str   one run (summary: the run's, else
                                                              rebuilt; rows: its store's series)
    write_html_report(run_dir, summary, rows) -> Path   writes RUN_DIR/report.html (the runner)
    render_comparison_html(before_dir, after_dir, title, out_dir=None) -> str   a drill's two runs

A page is a list of sections (header, thresholds, findings, one per chart, percentiles, errors,
monitor figures) built the same way for every run, so a comparison lays two runs' sections out
row by row, each chart pair on one shared scale. Data comes from html_data.py, drawing from
html_charts.py, text from html_sections.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from generator.report import html_sections as sec
from generator.report.html_charts import chart_html
from generator.report.html_data import (
    Chart,
    RunData,
    generator_charts,
    load_run,
    load_summary_file,
    monitor_charts,
)
from generator.report.summary_model import Summary

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem auto;
  max-width: 1500px; padding: 0 1rem; color: #222; background: #fff; }
h1 { font-size: 1.5rem; margin: 0.2rem 0 0.6rem; } h2 { font-size: 1.15rem; margin: 1.6rem 0 0.5rem;
  border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; } h3 { font-size: 1rem; margin: 0.2rem 0; }
table { border-collapse: collapse; margin: 0.3rem 0 0.8rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
table.numbers td:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
table.meta th { display: none; } table.meta td:first-child { font-weight: 600; color: #555; }
.badge { display: inline-block; padding: 0.1rem 0.6rem; border-radius: 0.8rem; font-size: 0.95rem;
  color: #fff; vertical-align: middle; }
.badge.pass { background: #2e7d32; } .badge.fail { background: #c62828; }
.badge.zone { background: #546e7a; } .zone-green { background: #2e7d32 !important; }
.zone-n-a { background: #90a4ae !important; }
.zone-yellow, .zone-amber { background: #f9a825 !important; color: #222; }
.zone-red { background: #c62828 !important; }
.ok { color: #2e7d32; font-weight: 600; } .bad { color: #c62828; font-weight: 700; }
.note { color: #666; font-style: italic; } .verdict { font-size: 1.05rem; }
.finding { border-left: 4px solid #888; background: #fafafa; padding: 0.4rem 0.8rem;
  margin: 0.5rem 0; } .finding ul { margin: 0.3rem 0; }
.sev-critical, .sev-error, .sev-high { border-color: #c62828; }
.sev-warning, .sev-medium { border-color: #f9a825; } .sev { font-size: 0.8rem; color: #555; }
figure.chart-box { margin: 0.4rem 0; } svg.chart { width: 100%; height: auto; display: block; }
figure.no-data { border: 1px dashed #ccc; padding: 0.6rem 0.8rem; }
figure.no-data figcaption { font-weight: 600; }
.chart-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr));
  gap: 0.6rem 1.2rem; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2rem; }
.columns > div { min-width: 0; overflow-x: auto; }
.col-head { font-weight: 700; font-size: 1.1rem; }
"""


@dataclass(frozen=True)
class Section:
    heading: str
    body: str


def _page(title: str, content: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body>{content}</body></html>\n"
    )


def _summary_for(run_dir: Path) -> Summary:
    found = load_summary_file(run_dir)
    if found is not None:
        return found
    from generator.report.rerender import summary_from_run_dir  # only for unfinished runs

    return summary_from_run_dir(run_dir)


def _charts(run: RunData) -> list[Chart]:
    return generator_charts(run) + monitor_charts(run)


def _x_range(run: RunData) -> tuple[float, float]:
    """Seconds since the start of load; the monitor's baseline may begin before it."""
    ends = [run.duration, 1.0]
    ends += [float(r["t"]) + 1 for r in run.rows]
    ends += [float(s["t"]) for s in run.monitor]
    return min([0.0] + [float(s["t"]) for s in run.monitor]), max(ends)


def _sections(
    run: RunData,
    out_dir: Path,
    chart_cells: list[str],
    title: str | None = None,
    grid: bool = True,
    runbooks: Path | None = None,
) -> list[Section]:
    s = run.summary
    head = [Section("", sec.header(s, title))]
    text: list[tuple[str, Callable[[Summary], str]]] = [
        ("Thresholds", sec.thresholds),
        ("Performance targets", sec.targets),
        ("Diagnosis", lambda summary: sec.findings(summary, out_dir, runbooks)),
    ]
    body = [Section(h, render(s)) for h, render in text]
    if grid:
        charts = [Section("Timeline", '<div class="chart-grid">' + "".join(chart_cells) + "</div>")]
    else:
        charts = [Section("Timeline" if i == 0 else "", c) for i, c in enumerate(chart_cells)]
    tail = [
        Section("Latency percentiles", sec.percentiles(s)),
        Section("Error breakdown", sec.errors(s)),
        Section("Target monitor: baseline, peak, recovery", sec.monitor_table(s)),
    ]
    return head + body + charts + tail


def _flatten(sections: list[Section]) -> str:
    return "".join(
        (f"<h2>{escape(x.heading)}</h2>" if x.heading else "") + x.body for x in sections
    )


def render_run_html(
    run_dir: Path,
    summary: Summary | None = None,
    rows: list[dict[str, Any]] | None = None,
    runbooks: Path | None = None,
) -> str:
    """The report page of one run directory (rendered from its files: works for killed runs);
    ``rows``, the per-second series of the store that recorded the run, spare re-reading it;
    ``runbooks``, where the findings' runbooks are (their links)."""
    run = load_run(run_dir, summary if summary is not None else _summary_for(run_dir), rows)
    xlim = _x_range(run)
    cells = [chart_html(c, xlim, f"c{i}") for i, c in enumerate(_charts(run))]
    name = run.summary.name
    body = _flatten(_sections(run, run_dir, cells, runbooks=runbooks))
    return _page(f"callbench report — {name}", body)


def write_html_report(
    run_dir: Path,
    summary: Summary | None = None,
    rows: list[dict[str, Any]] | None = None,
    runbooks: Path | None = None,
) -> Path | None:
    """Writes RUN_DIR/report.html; None (with a warning) if it could not be rendered."""
    path = run_dir / "report.html"
    try:
        path.write_text(render_run_html(run_dir, summary, rows, runbooks), encoding="utf-8")
    except Exception as exc:  # a chart bug must not cost a long run its exit code and reports
        print(f"callbench: report.html not written: {exc!r}", file=sys.stderr)
        return None
    return path


def render_comparison_html(
    before_dir: Path,
    after_dir: Path,
    title: str,
    out_dir: Path | None = None,
    runbooks: Path | None = None,
) -> str:
    """A drill's runs side by side: before the fix on the left, after on the right, each chart
    pair on the same axes. ``out_dir`` is where the page will be saved (runbook links are
    relative to it); by default the runs' common parent directory."""
    where = out_dir or Path(os.path.commonpath([before_dir.resolve(), after_dir.resolve()]))
    runs = [load_run(d, _summary_for(d)) for d in (before_dir, after_dir)]
    ranges = [_x_range(r) for r in runs]
    xlim = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    pairs = list(zip(_charts(runs[0]), _charts(runs[1]), strict=True))
    columns: list[list[Section]] = []
    for side, (run, label) in enumerate(
        zip(runs, ("before the fix", "after the fix"), strict=True)
    ):
        cells = [
            chart_html(pair[side], xlim, f"s{side}c{i}", max(pair[0].y_top(), pair[1].y_top()))
            for i, pair in enumerate(pairs)
        ]
        name = f"{label}: {run.summary.name}"
        columns.append(_sections(run, where, cells, title=name, grid=False, runbooks=runbooks))
    rows = []
    for left, right in zip(columns[0], columns[1], strict=True):
        heading = f"<h2>{escape(left.heading)}</h2>" if left.heading else ""
        rows.append(
            f'{heading}<div class="columns"><div>{left.body}</div><div>{right.body}</div></div>'
        )
    top = (
        f"<h1>{escape(title)}</h1>"
        f'<div class="columns"><div class="col-head">Before: {escape(str(before_dir))}</div>'
        f'<div class="col-head">After: {escape(str(after_dir))}</div></div>'
    )
    return _page(f"callbench drill — {title}", top + "".join(rows))
