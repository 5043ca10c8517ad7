"""Prometheus text → the monitor's flat sample keys.

Pure functions over the exposition text, parsed with prometheus_client's parser. The table
`GAUGES`/`COUNTERS` maps the backend's and the upstream's metric names (docs/monitor.md) to sample
keys; labelled counters are summed, and some kinds also get a key of their own. Histograms
(upstream latency) are turned into a p95 over the window since the previous scrape, so a spike
shows when it happens instead of being diluted by the whole run; `HistogramWindow` keeps the
previous cumulative buckets for that.

Standard process metrics (`process_resident_memory_bytes`, `process_cpu_seconds_total`, exposed by
most client libraries) fill `rss_bytes` and, over two scrapes, `cpu_percent` for targets that have
no callbench metrics of their own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

B = "callbench_backend_"
R = "callbench_realtime_"

# Gauges: sample name → key.
GAUGES = {
    B + "active_calls": "active_calls",
    B + "db_pool_size": "pool_size",
    B + "db_pool_idle": "pool_idle",
    B + "db_pool_waiting": "pool_waiting",
    B + "rss_bytes": "rss_bytes",
    R + "sessions_active": "realtime_sessions_active",
    "process_resident_memory_bytes": "process_rss_bytes",
}

# Counters: sample name → (key for the sum over labels, label, {label value: key of its own}).
COUNTERS: dict[str, tuple[str, str, dict[str, str]]] = {
    B + "db_errors_total": (
        "db_errors_total",
        "kind",
        {
            "too_many_connections": "db_too_many_connections_total",
            "acquire_timeout": "db_acquire_timeout_total",
        },
    ),
    B + "upstream_errors_total": (
        "upstream_errors_total",
        "kind",
        {
            "rate_limited": "upstream_rate_limited_total",
            "timeout": "upstream_timeout_total",
            "dropped": "upstream_dropped_total",
            "refused": "upstream_refused_total",
        },
    ),
    B + "rejected_sessions_total": ("rejected_sessions_total", "", {}),
    B + "calls_total": ("backend_calls_total", "outcome", {"failed": "backend_calls_failed_total"}),
    R + "rejections_total": (
        "realtime_rejections_total",
        "reason",
        {
            "handshake_429": "realtime_handshake_429_total",
            "session_cap": "realtime_session_cap_total",
        },
    ),
    R + "faults_total": (
        "realtime_faults_total",
        "kind",
        {"rate_limit": "realtime_rate_limited_total", "stall": "realtime_stalls_total"},
    ),
    R + "unauthorized_total": ("realtime_unauthorized_total", "", {}),
    R + "session_ends_total": (
        "realtime_session_ends_total",
        "reason",
        {
            "beta_api_shape_disabled": "realtime_beta_refused_total",
            "session_expired": "realtime_session_expired_total",
        },
    ),
    "process_cpu_seconds_total": ("process_cpu_seconds_total", "", {}),
}

# Histograms: family name → key of its windowed p95 in milliseconds.
HISTOGRAMS = {
    B + "upstream_latency_seconds": "upstream_latency_p95_ms",
    B + "event_loop_lag_seconds": "loop_lag_p95_ms",
    R + "first_delta_seconds": "realtime_first_delta_p95_ms",
}

Buckets = dict[float, float]  # upper bound (seconds) → cumulative count


def parse_metrics(text: str) -> tuple[dict[str, float], dict[str, Buckets]]:
    """The flat keys the text holds, and the cumulative buckets of each known histogram.
    Raises ValueError when the text is not Prometheus exposition format."""
    values: dict[str, float] = {}
    histograms: dict[str, Buckets] = {}
    for family in text_string_to_metric_families(text):
        # A labelled counter with no child yet has no sample: its family still means zero.
        declared = COUNTERS.get(family.name + "_total") or COUNTERS.get(family.name)
        if declared is not None:
            for key in (declared[0], *declared[2].values()):
                values.setdefault(key, 0.0)
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name in GAUGES:
                values[GAUGES[name]] = value
            elif name in COUNTERS:
                total_key, label, own = COUNTERS[name]
                values[total_key] = values.get(total_key, 0.0) + value
                for key in own.values():
                    values.setdefault(key, 0.0)
                own_key = own.get(labels.get(label, "")) if label else None
                if own_key is not None:
                    values[own_key] += value
            elif name.endswith("_bucket") and name.removesuffix("_bucket") in HISTOGRAMS:
                key = HISTOGRAMS[name.removesuffix("_bucket")]
                histograms.setdefault(key, {})[float(labels.get("le", "inf"))] = value
    return values, histograms


def quantile(buckets: Buckets, q: float) -> float | None:
    """The q-quantile (seconds) of cumulative buckets, interpolated linearly inside the bucket
    as Prometheus' histogram_quantile does; None without observations."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bucket: its bound is all we know
            inside = count - below
            fraction = (rank - below) / inside if inside > 0 else 1.0
            return lower + (bound - lower) * fraction
        lower, below = bound, count
    return lower


def delta(now: Buckets, before: Buckets | None) -> Buckets:
    """Buckets of the observations made between two scrapes (a counter reset starts over)."""
    if before is None or any(now.get(b, 0.0) < c for b, c in before.items()):
        return dict(now)
    return {b: c - before.get(b, 0.0) for b, c in now.items()}


@dataclass
class HistogramWindow:
    """Per-scrape p95 of each histogram, from the difference to the previous scrape."""

    previous: dict[str, Buckets] = field(default_factory=dict)

    def p95_ms(self, histograms: dict[str, Buckets]) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, buckets in histograms.items():
            window = delta(buckets, self.previous.get(key))
            self.previous[key] = buckets
            value = quantile(window, 0.95)
            if value is not None:
                out[key] = round(value * 1000.0, 1)
        return out


@dataclass
class CpuFromCounter:
    """cpu_percent from `process_cpu_seconds_total` over the wall time between two scrapes."""

    last: tuple[float, float] | None = None

    def percent(self, cpu_seconds: float, wall: float) -> float | None:
        previous, self.last = self.last, (cpu_seconds, wall)
        if previous is None or wall <= previous[1] or cpu_seconds < previous[0]:
            return None
        return round((cpu_seconds - previous[0]) / (wall - previous[1]) * 100.0, 1)


def known_keys() -> Iterable[str]:
    """Every key this module can produce (docs/monitor.md documents each)."""
    yield from GAUGES.values()
    for total_key, _, own in COUNTERS.values():
        yield total_key
        yield from own.values()
    yield from HISTOGRAMS.values()
