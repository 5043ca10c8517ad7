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
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.errors import InvalidInput
from generator.metrics.events import read_events
from generator.metrics.readback import run_store
from generator.monitor.history import thin_samples
from generator.report.chart_model import MID, Chart, Line, split_label
from generator.report.html_series import LATENCY_CHARTS, series_charts
from generator.report.summary_model import Summary, read_summary
from generator.report.thinning import thin_rows

MIB = 1024.0 * 1024.0
RSS_BAND = 0.20  # a leak shows as RSS that stays above baseline + 20 % after the load


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


REPORT_MAX_POINTS = 2000  # per line of report.html; a longer run's rows are thinned (thinning.py)


def generator_charts(run: RunData) -> list[Chart]:
    return series_charts(thin_rows(run.rows, REPORT_MAX_POINTS), run.duration)


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
    """The target's charts, a long run's samples thinned as the monitor thins its history."""
    return target_charts(thin_samples(run.monitor, REPORT_MAX_POINTS), rss_baseline(run))


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
    widest = max((int(s.get("samples", 1)) for s in samples), default=1)
    thinned = (
        ""
        if widest == 1
        else f"Older points cover up to {widest} samples each: the highest of them (a counter's "
        "rate: the mean over them)."
    )

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
            note=thinned,
        ),
        Chart(
            "Backend CPU (%)",
            "percent of one core",
            present(_series(samples, "cpu_percent")),
            spans=spans,
            empty_note=note,
            note=thinned,
        ),
        Chart(
            "Postgres connections vs max_connections",
            "connections",
            pg if pg else (),
            refs=pg_refs if pg else (),
            spans=spans,
            empty_note=note,
            note=thinned,
        ),
        Chart(
            "DB pool: waiting for a connection",
            "connections",
            pool,
            spans=spans,
            empty_note=note,
            note=thinned,
        ),
        Chart(
            "Upstream 429s and rejections per second",
            "per second",
            upstream,
            spans=spans,
            empty_note=note,
            note=thinned,
        ),
    ]


__all__ = [
    "LATENCY_CHARTS",
    "MID",
    "REPORT_MAX_POINTS",
    "Chart",
    "Line",
    "RunData",
    "generator_charts",
    "load_run",
    "monitor_charts",
    "series_charts",
    "split_label",
    "target_charts",
]


def load_summary_file(run_dir: Path) -> Summary | None:
    """RUN_DIR/summary.json, or None when it is missing, cut short or not a summary (the caller
    then rebuilds the summary from the run's events)."""
    try:
        return read_summary(run_dir / "summary.json")
    except InvalidInput:
        return None
