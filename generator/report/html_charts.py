"""Draws a report `Chart` as inline SVG with Matplotlib, or a "no data" note when it has none.

Figures are built with `matplotlib.figure.Figure` (no pyplot global state, no GUI backend) and
saved as SVG with text kept as <text> (small files; the browser's sans-serif draws it). Each SVG
gets a <title> and aria-label naming the chart, a width that follows its container, and ids
prefixed per chart so that several charts inlined in one page never share an id.
"""

from __future__ import annotations

import html
import io
import itertools
import math
import re
from typing import TYPE_CHECKING

from generator.report.chart_model import Chart, Line

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
# Fixed colours for outcomes, so "failed" is never drawn green in one chart and blue in another.
NAMED_COLORS = {"succeeded": "#2ca02c", "failed": "#d62728"}
PHASE_COLORS = {"baseline": "#9ecae1", "cooldown": "#c7e9c0"}


def _prefix_ids(svg: str, prefix: str) -> str:
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)


def _finish_svg(raw: str, title: str, prefix: str) -> str:
    start = raw.find("<svg")
    svg = _prefix_ids(raw[start:], prefix)
    label = html.escape(title, quote=True)
    open_end = svg.find(">") + 1
    tag = svg[:open_end]
    tag = re.sub(r'\s(width|height)="[^"]*"', "", tag, count=2)
    tag = tag.replace("<svg", f'<svg role="img" aria-label="{label}" class="chart"', 1)
    return tag + f"<title>{html.escape(title)}</title>" + svg[open_end:]


MAX_BARS = 300  # per series; a long soak's seconds are averaged into wider bars


def _widths(line: Line) -> tuple[float, ...]:
    return line.widths or (1.0,) * len(line.xs)


def _bin_width(chart: Chart) -> int:
    """Seconds per bar: at most MAX_BARS bars, a whole number of the widest point's seconds
    (a thinned row's point falls in one bar)."""
    longest = max((sum(_widths(line)) for line in chart.lines), default=0.0)
    widest = max((max(_widths(line), default=1.0) for line in chart.lines), default=1.0)
    unit = max(1, math.ceil(widest))
    return unit * max(1, math.ceil(longest / MAX_BARS / unit))


def _binned(line: Line, width: int) -> Line:
    """Per-second counts averaged over ``width``-second bins (still "per second"); a point
    covering several seconds (``Line.widths``) weighs as many."""
    if width == 1:
        return line
    sums: dict[float, float] = {}
    for x, y, seconds in zip(line.xs, line.ys, _widths(line), strict=True):
        start = (x // width) * width
        sums[start] = sums.get(start, 0.0) + y * seconds / width
    return Line(line.label, tuple(x + width / 2 for x in sums), tuple(sums.values()))


def _draw(chart: Chart, fig: Figure, xlim: tuple[float, float], y_top: float | None) -> None:
    ax = fig.add_subplot()
    for x0, x1, phase in chart.spans:
        ax.axvspan(x0, x1, color=PHASE_COLORS.get(phase, "#eeeeee"), alpha=0.35, lw=0, label=phase)
    if chart.band is not None:
        ax.axhspan(*chart.band, color="#fdd49e", alpha=0.5, lw=0)
    colors = itertools.cycle(PALETTE)
    if chart.kind == "stacked":
        bottoms: dict[float, float] = {}
        width = _bin_width(chart)
        for line in chart.lines:
            line = _binned(line, width)
            base = [bottoms.get(x, 0.0) for x in line.xs]
            ax.bar(
                line.xs,
                line.ys,
                width=0.9 * width,
                bottom=base,
                label=line.label,
                color=NAMED_COLORS.get(line.label) or next(colors),
            )
            for x, y in zip(line.xs, line.ys, strict=True):
                bottoms[x] = bottoms.get(x, 0.0) + y
    else:
        for line in chart.lines:
            ax.plot(
                line.xs,
                line.ys,
                label=line.label,
                color=next(colors),
                lw=1.6,
                marker="." if len(line.xs) < 40 else None,
            )
    for (label, y), style in zip(chart.refs, itertools.cycle(("--", ":")), strict=False):
        ax.axhline(y, color="#444444", ls=style, lw=1.2, label=f"{label} ({y:,.0f})")
    ax.set_title(chart.title, fontsize=11, loc="left")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel(chart.ylabel)
    ax.set_xlim(*xlim)
    top = y_top if y_top is not None else chart.y_top()
    ax.set_ylim(0, top * 1.3 if top > 0 else 1.0)
    ax.grid(True, color="#dddddd", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, loc="upper left", frameon=False, ncols=3)


def chart_html(
    chart: Chart, xlim: tuple[float, float], uid: str, y_top: float | None = None
) -> str:
    """The chart as a <figure> holding an inline <svg>, or a "no data" note. ``uid`` makes the
    SVG's ids unique in the page; ``y_top`` shares a y scale between compared runs."""
    title = html.escape(chart.title)
    if not chart.has_data():
        return (
            f'<figure class="chart-box no-data" data-chart="{title}"><figcaption>{title}'
            f'</figcaption><p class="note">{html.escape(chart.empty_note)}</p></figure>'
        )
    # Imported here: Matplotlib takes a second to load, and only drawing needs it.
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 2.9), dpi=100, layout="constrained")
    _draw(chart, fig, xlim, y_top)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "callbench"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = _finish_svg(buf.getvalue(), chart.title, f"{uid}-")
    note = f'<p class="note">{html.escape(chart.note)}</p>' if chart.note else ""
    return f'<figure class="chart-box" data-chart="{title}">{svg}{note}</figure>'
