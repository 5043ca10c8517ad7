"""The generator's charts (report.html's and the live dashboard's) from a store's per-second
rows, or those rows thinned (thinning.py): each row is one point at the middle of the seconds it
covers, its counts per second over them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from generator.report.chart_model import MID, Chart, Line, split_label
from generator.report.thinning import span_of

Slot = tuple[int, int, dict[str, Any] | None]  # first second, seconds covered, row (None: quiet)
QUIET_ROWS_S = 60  # a gap in the rows up to this long is drawn second by second, else as one


def _slots(rows: list[dict[str, Any]], duration: float) -> list[Slot]:
    """The points of a run's charts, from 0 to its end (at least ``duration`` seconds): each
    row (one second, or a thinned row's span), and quiet seconds where there is none."""
    slots: list[Slot] = []
    at = 0

    def quiet(until: int) -> None:
        step = 1 if until - at <= QUIET_ROWS_S else until - at
        slots.extend((s, min(step, until - s), None) for s in range(at, until, step))

    for row in sorted(rows, key=lambda r: int(r["t"])):
        t = int(row["t"])
        quiet(t)
        slots.append((t, span_of(row), row))
        at = max(at, t + span_of(row))
    quiet(max(at, math.ceil(duration), 1))
    return slots


def _xs(slots: list[Slot]) -> tuple[float, ...]:
    return tuple(t + span * MID for t, span, _ in slots)


def _widths(slots: list[Slot]) -> tuple[float, ...]:
    """Each point's seconds, or nothing when every point is one second (unthinned rows)."""
    widths = tuple(float(span) for _, span, _ in slots)
    return widths if any(width != 1 for width in widths) else ()


def _grouped(slots: list[Slot], metric: str, tag: str) -> tuple[Line, ...]:
    """Per-second counter counts of ``metric`` grouped by ``tag``, one line per value (a
    thinned row's count over its span: the mean per second)."""
    by_value: dict[str, dict[int, float]] = defaultdict(dict)
    for index, (_, _, row) in enumerate(slots):
        for flat, n in ({} if row is None else row["counters"]).items():
            name, tags = split_label(flat)
            if name == metric:
                slot = by_value[tags.get(tag, "?")]
                slot[index] = slot.get(index, 0.0) + n
    xs, widths = _xs(slots), _widths(slots)
    return tuple(
        Line(
            value,
            xs,
            tuple(counts.get(i, 0.0) / span for i, (_, span, _) in enumerate(slots)),
            widths,
        )
        for value, counts in sorted(by_value.items())
    )


def _trend_line(slots: list[Slot], metric: str, stat: str, label: str) -> Line:
    points = [
        (t + span * MID, float(row["trends"][metric][stat]))
        for t, span, row in slots
        if row is not None and metric in row["trends"]
    ]
    return Line(label, tuple(p[0] for p in points), tuple(p[1] for p in points))


def _iterations(slots: list[Slot], field_: str, per_s: bool) -> tuple[float, ...]:
    return tuple(
        0.0
        if row is None
        else float(row.get("iterations", {}).get(field_, 0.0)) / (span if per_s else 1)
        for _, span, row in slots
    )


def _counted(slots: list[Slot], metric: str) -> tuple[float, ...]:
    """A counter's count per second, all tag sets together."""
    return tuple(
        0.0
        if row is None
        else sum(n for flat, n in row["counters"].items() if split_label(flat)[0] == metric) / span
        for _, span, row in slots
    )


# The latency a run's per-second chart shows: its workloads' main trend, calls' turn latency first.
LATENCY_CHARTS = (
    ("turn_latency", "Turn latency per second (ms)"),
    ("http_req_duration", "HTTP request duration per second (ms)"),
    ("webhook_duration", "Webhook duration per second (ms)"),
    ("ws_connecting", "Connect time per second (ms)"),
)


def _latency_chart(rows: list[dict[str, Any]], slots: list[Slot], note: str) -> Chart:
    seen = {name for row in rows for name in row["trends"]}
    metric, title = next((chart for chart in LATENCY_CHARTS if chart[0] in seen), LATENCY_CHARTS[0])
    lines = (_trend_line(slots, metric, p, p) for p in ("p50", "p95", "p99"))
    return Chart(title, "ms", tuple(line for line in lines if line.ys), note=note)


def series_charts(rows: list[dict[str, Any]], duration: float) -> list[Chart]:
    """The generator's charts from a store's per-second rows (MetricsStore.series_rows), or
    those rows thinned (thinning.py: a row covering ``span`` seconds is one point, its counts
    per second over them), over at least ``duration`` seconds: the HTML report's and the live
    dashboard's."""
    slots = _slots(rows, duration)
    xs = _xs(slots)
    vus: dict[str, dict[int, float]] = defaultdict(dict)
    for index, (_, _, row) in enumerate(slots):
        for flat, value in ({} if row is None else row["gauges"]).items():
            name, tags = split_label(flat)
            if name == "vus":  # a merged run's slices each hold a part: they add up
                by_i = vus[tags.get("workload", "")]
                by_i[index] = by_i.get(index, 0.0) + value
    load_lines = [
        Line(f"VUs {w}".strip(), xs, tuple(by_i.get(i, 0.0) for i in range(len(slots))))
        for w, by_i in sorted(vus.items())
    ]
    started = _iterations(slots, "started", per_s=True)
    dropped = _counted(slots, "dropped_iterations")
    if any(started):
        in_flight = _iterations(slots, "in_flight", per_s=False)
        load_lines.append(Line("iterations in flight", xs, in_flight))
    widest = max((span for _, span, row in slots if row is not None), default=1)
    peak, mean, worst = (
        ("", "", "")
        if widest == 1
        else tuple(
            f"Older points cover up to {widest} s each: {what} of those seconds."
            for what in ("the highest", "the mean per second", "the worst second's percentile")
        )
    )
    arrivals: list[Line] = []
    if any(started) or any(dropped):
        arrivals.append(Line("iterations started/s", xs, started))
    if any(dropped):
        arrivals.append(Line("dropped/s", xs, dropped))
    return [
        Chart("Active calls and VUs", "count", tuple(load_lines), note=peak),
        Chart(
            "Arrival rate (iterations started per second)",
            "per second",
            tuple(arrivals),
            note=mean,
        ),
        _latency_chart(rows, slots, worst),
        Chart(
            "Call outcomes per second",
            "calls",
            _grouped(slots, "calls_total", "outcome"),
            kind="stacked",
            note=mean,
        ),
        Chart(
            "Errors by kind per second",
            "errors",
            _grouped(slots, "errors_total", "kind"),
            kind="stacked",
            empty_note="no errors recorded",
            note=mean,
        ),
        Chart(
            "Audio send lag p99 per second (ms)",
            "ms",
            tuple(x for x in (_trend_line(slots, "send_lag", "p99", "send_lag p99"),) if x.ys),
            empty_note="no send_lag recorded (no audio sent by this workload)",
            note=worst,
        ),
    ]
