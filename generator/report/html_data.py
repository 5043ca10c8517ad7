"""What the HTML report reads from a run directory, turned into chart-ready time series.

The report is rendered from files only — the run's snapshots (metrics.jsonl + metrics.hlog, or
events.jsonl for directories written before them; generator/metrics/readback.py) and their
per-second rows, monitor.jsonl when the target monitor wrote one, and the summary — so a killed
run renders as well as a finished one. A run that has just ended hands over its store's
per-second rows instead, which spares reading its files again. This module only reshapes
recorded figures into `Chart`s (titles, lines, reference lines); drawing lives in
html_charts.py, layout in html.py.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from generator.errors import InvalidInput
from generator.metrics.events import read_events
from generator.metrics.readback import run_store
from generator.report.summary_model import Summary, read_summary

MIB = 1024.0 * 1024.0
RSS_BAND = 0.20  # a leak shows as RSS that stays above baseline + 20 % after the load
MID = 0.5  # per-second figures are drawn at the middle of their second


@dataclass(frozen=True)
class Line:
    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]


@dataclass(frozen=True)
class Chart:
    """One chart's data. ``stacked`` draws bars per second stacked by line (counts per kind)."""

    title: str
    ylabel: str
    lines: tuple[Line, ...] = ()
    kind: Literal["line", "stacked"] = "line"
    refs: tuple[tuple[str, float], ...] = ()  # horizontal reference lines (label, y)
    band: tuple[float, float] | None = None  # shaded y range (e.g. baseline..baseline+20 %)
    spans: tuple[tuple[float, float, str], ...] = ()  # shaded x ranges (monitor phases)
    empty_note: str = "no data recorded for this chart"

    def has_data(self) -> bool:
        return any(line.ys for line in self.lines)

    def y_top(self) -> float:
        """Highest value the chart shows, so a comparison can share one y scale."""
        tops = [0.0] + [y for _, y in self.refs] + ([self.band[1]] if self.band else [])
        if self.kind == "stacked":
            per_x: dict[float, float] = defaultdict(float)
            for line in self.lines:
                for x, y in zip(line.xs, line.ys, strict=True):
                    per_x[x] += y
            tops.extend(per_x.values())
        else:
            tops.extend(y for line in self.lines for y in line.ys if math.isfinite(y))
        return max(tops)


@dataclass
class RunData:
    run_dir: Path
    summary: Summary
    rows: list[dict[str, Any]]  # the store's per-second series (series.py)
    monitor: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return float(self.summary.duration_s)


def load_run(run_dir: Path, summary: Summary, rows: list[dict[str, Any]] | None = None) -> RunData:
    """The run's figures; ``rows`` are its per-second series when the caller has them (the
    store that recorded or merged the run), else they are rebuilt from its snapshots (or the
    events.jsonl of a run written before them)."""
    if rows is None:
        store = run_store(run_dir, _meta(run_dir))
        rows = [] if store is None else store.series_rows()
    return RunData(run_dir, summary, rows, read_monitor(run_dir / "monitor.jsonl"))


def _meta(run_dir: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def read_monitor(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    samples = [e for e in read_events(path) if isinstance(e.get("t"), int | float)]
    return sorted(samples, key=lambda e: float(e["t"]))


# -- label helpers ------------------------------------------------------------------------------
def split_label(flat: str) -> tuple[str, dict[str, str]]:
    """Inverse of series.label: `name{k=v,...}` → (name, tags)."""
    name, _, rest = flat.partition("{")
    tags = dict(p.split("=", 1) for p in rest.rstrip("}").split(",") if "=" in p)
    return name, tags


def _grouped(rows: list[dict[str, Any]], metric: str, tag: str) -> tuple[Line, ...]:
    """Per-second counter counts of ``metric`` grouped by ``tag``, one line per value."""
    by_value: dict[str, dict[int, float]] = defaultdict(dict)
    for row in rows:
        for flat, n in row["counters"].items():
            name, tags = split_label(flat)
            if name == metric:
                slot = by_value[tags.get(tag, "?")]
                slot[row["t"]] = slot.get(row["t"], 0.0) + n
    seconds = [int(row["t"]) for row in rows]
    xs = tuple(t + MID for t in seconds)
    return tuple(
        Line(value, xs, tuple(counts.get(t, 0.0) for t in seconds))
        for value, counts in sorted(by_value.items())
    )


def _trend_line(rows: list[dict[str, Any]], metric: str, stat: str, label: str) -> Line:
    points = [
        (r["t"] + MID, float(r["trends"][metric][stat])) for r in rows if metric in r["trends"]
    ]
    return Line(label, tuple(p[0] for p in points), tuple(p[1] for p in points))


def _iterations(rows: list[dict[str, Any]], field_: str, seconds: range) -> tuple[float, ...]:
    by_t = {int(r["t"]): float(r.get("iterations", {}).get(field_, 0.0)) for r in rows}
    return tuple(by_t.get(s, 0.0) for s in seconds)


def _counted(rows: list[dict[str, Any]], metric: str, seconds: range) -> tuple[float, ...]:
    """A counter's per-second count, all tag sets together."""
    by_t: dict[int, float] = defaultdict(float)
    for row in rows:
        for flat, n in row["counters"].items():
            if split_label(flat)[0] == metric:
                by_t[int(row["t"])] += n
    return tuple(by_t.get(s, 0.0) for s in seconds)


# -- generator charts ---------------------------------------------------------------------------
# The latency a run's per-second chart shows: its workloads' main trend, calls' turn latency first.
LATENCY_CHARTS = (
    ("turn_latency", "Turn latency per second (ms)"),
    ("http_req_duration", "HTTP request duration per second (ms)"),
    ("webhook_duration", "Webhook duration per second (ms)"),
    ("ws_connecting", "Connect time per second (ms)"),
)


def _latency_chart(rows: list[dict[str, Any]]) -> Chart:
    seen = {name for row in rows for name in row["trends"]}
    metric, title = next((chart for chart in LATENCY_CHARTS if chart[0] in seen), LATENCY_CHARTS[0])
    lines = (_trend_line(rows, metric, p, p) for p in ("p50", "p95", "p99"))
    return Chart(title, "ms", tuple(line for line in lines if line.ys))


def generator_charts(run: RunData) -> list[Chart]:
    return series_charts(run.rows, run.duration)


def series_charts(rows: list[dict[str, Any]], duration: float) -> list[Chart]:
    """The generator's charts from a store's per-second rows (MetricsStore.series_rows), over
    at least ``duration`` seconds: the HTML report's and the live dashboard's."""
    last = max([int(r["t"]) for r in rows] + [math.ceil(duration) - 1, 0])
    seconds = range(0, last + 1)
    xs = tuple(s + MID for s in seconds)
    vus: dict[str, dict[int, float]] = defaultdict(dict)
    for row in rows:
        for flat, value in row["gauges"].items():
            name, tags = split_label(flat)
            if name == "vus":  # a merged run's slices each hold a part: they add up
                by_t = vus[tags.get("workload", "")]
                by_t[row["t"]] = by_t.get(row["t"], 0.0) + value
    load_lines = [
        Line(f"VUs {w}".strip(), xs, tuple(by_t.get(s, 0.0) for s in seconds))
        for w, by_t in sorted(vus.items())
    ]
    started = _iterations(rows, "started", seconds)
    dropped = _counted(rows, "dropped_iterations", seconds)
    if any(started):
        in_flight = _iterations(rows, "in_flight", seconds)
        load_lines.append(Line("iterations in flight", xs, in_flight))
    arrivals: list[Line] = []
    if any(started) or any(dropped):
        arrivals.append(Line("iterations started/s", xs, started))
    if any(dropped):
        arrivals.append(Line("dropped/s", xs, dropped))
    return [
        Chart("Active calls and VUs", "count", tuple(load_lines)),
        Chart("Arrival rate (iterations started per second)", "per second", tuple(arrivals)),
        _latency_chart(rows),
        Chart(
            "Call outcomes per second",
            "calls",
            _grouped(rows, "calls_total", "outcome"),
            kind="stacked",
        ),
        Chart(
            "Errors by kind per second",
            "errors",
            _grouped(rows, "errors_total", "kind"),
            kind="stacked",
            empty_note="no errors recorded",
        ),
        Chart(
            "Audio send lag p99 per second (ms)",
            "ms",
            tuple(x for x in (_trend_line(rows, "send_lag", "p99", "send_lag p99"),) if x.ys),
            empty_note="no send_lag recorded (no audio sent by this workload)",
        ),
    ]


# -- monitor charts -----------------------------------------------------------------------------
def _series(samples: list[dict[str, Any]], key: str, scale: float = 1.0) -> Line | None:
    points = [
        (float(s["t"]), float(s[key]) / scale)
        for s in samples
        if isinstance(s.get(key), int | float) and not isinstance(s.get(key), bool)
    ]
    if not points:
        return None
    return Line(key, tuple(p[0] for p in points), tuple(p[1] for p in points))


def _rate_of(samples: list[dict[str, Any]], key: str, label: str) -> Line | None:
    """A cumulative counter's increase per second between samples (restarts count from 0)."""
    total = _series(samples, key)
    if total is None:
        return None
    xs, ys = [], []
    for (t0, v0), (t1, v1) in zip(
        zip(total.xs, total.ys, strict=True),
        zip(total.xs[1:], total.ys[1:], strict=True),
        strict=False,
    ):
        if t1 > t0:
            xs.append(t1)
            ys.append((v1 - v0 if v1 >= v0 else v1) / (t1 - t0))
    return Line(label, tuple(xs), tuple(ys)) if xs else None


def phase_spans(samples: list[dict[str, Any]]) -> tuple[tuple[float, float, str], ...]:
    """The x ranges of the monitor's baseline and cooldown phases (the load phase is unshaded)."""
    spans: list[tuple[float, float, str]] = []
    for sample in samples:
        phase, t = str(sample.get("phase", "")), float(sample["t"])
        if spans and spans[-1][2] == phase:
            spans[-1] = (spans[-1][0], t, phase)
        else:
            spans.append((spans[-1][1] if spans else t, t, phase))
    return tuple(s for s in spans if s[2] in ("baseline", "cooldown") and s[1] > s[0])


def rss_baseline(run: RunData) -> float | None:
    """Baseline RSS in bytes: the summary's monitor baseline, else the baseline samples' median."""
    base = {} if run.summary.monitor is None else run.summary.monitor.baseline
    if "rss_bytes" in base:
        return float(base["rss_bytes"])
    return sampled_rss_baseline(run.monitor)


def sampled_rss_baseline(samples: list[dict[str, Any]]) -> float | None:
    """The median RSS of the monitor's baseline samples (bytes), None without any."""
    values = [
        float(s["rss_bytes"])
        for s in samples
        if s.get("phase") == "baseline" and isinstance(s.get("rss_bytes"), int | float)
    ]
    return statistics.median(values) if values else None


def monitor_charts(run: RunData) -> list[Chart]:
    return target_charts(run.monitor, rss_baseline(run))


def target_charts(
    samples: list[dict[str, Any]],
    base: float | None,
    no_samples: str = "no monitor.jsonl in this run",
) -> list[Chart]:
    """The target monitor's charts from its samples (monitor.jsonl's rows); ``base``: the
    baseline RSS in bytes; ``no_samples``: what the charts say when there is no sample at all.
    The HTML report's and the live dashboard's."""
    note = no_samples if not samples else "the monitor did not see this figure"
    spans = phase_spans(samples)

    def present(*lines: Line | None) -> tuple[Line, ...]:
        return tuple(line for line in lines if line is not None)

    rss = _series(samples, "rss_bytes", MIB)
    rss_refs: tuple[tuple[str, float], ...] = ()
    band = None
    if base is not None and rss is not None:
        rss_refs = (("baseline", base / MIB), ("baseline +20 %", base * (1 + RSS_BAND) / MIB))
        band = (base / MIB, base * (1 + RSS_BAND) / MIB)
    pg_max = [
        s["pg_max_connections"]
        for s in samples
        if isinstance(s.get("pg_max_connections"), int | float)
    ]
    pg_refs = (("max_connections", float(pg_max[-1])),) if pg_max else ()
    pg = present(
        _series(samples, "pg_total"), _series(samples, "pg_active"), _series(samples, "pg_idle")
    )
    pool = present(
        _series(samples, "pool_waiting"),
        _series(samples, "pool_size"),
        _series(samples, "pool_idle"),
    )
    upstream = present(
        _rate_of(samples, "upstream_rate_limited_total", "429s/s"),
        _rate_of(samples, "db_too_many_connections_total", "db 53300/s"),
        _rate_of(samples, "rejected_sessions_total", "rejected/s"),
    )
    return [
        Chart(
            "Backend RSS (MiB) with baseline and 20 % band",
            "MiB",
            present(rss),
            refs=rss_refs,
            band=band,
            spans=spans,
            empty_note=note,
        ),
        Chart(
            "Backend CPU (%)",
            "percent of one core",
            present(_series(samples, "cpu_percent")),
            spans=spans,
            empty_note=note,
        ),
        Chart(
            "Postgres connections vs max_connections",
            "connections",
            pg if pg else (),
            refs=pg_refs if pg else (),
            spans=spans,
            empty_note=note,
        ),
        Chart(
            "DB pool: waiting for a connection", "connections", pool, spans=spans, empty_note=note
        ),
        Chart(
            "Upstream 429s and rejections per second",
            "per second",
            upstream,
            spans=spans,
            empty_note=note,
        ),
    ]


def load_summary_file(run_dir: Path) -> Summary | None:
    """RUN_DIR/summary.json, or None when it is missing, cut short or not a summary (the caller
    then rebuilds the summary from the run's events)."""
    try:
        return read_summary(run_dir / "summary.json")
    except InvalidInput:
        return None
