"""Evidence the rules share: error counts by kind and code, PostgreSQL's wordings of "too many
connections", and whether turn latency rose as the run went on."""

from __future__ import annotations

import re

from generator.metrics.store import MetricsStore

# SQLSTATE 53300 across PostgreSQL versions: the plain cap, the reserved-slots wording of
# PG ≤ 15, and PG 16's wording (reserved for roles with SUPERUSER / pg_use_reserved_connections).
TOO_MANY_CONNECTIONS = re.compile(
    r"53300|too_many_connections|sorry, too many clients already"
    r"|remaining connection slots are reserved for",
    re.IGNORECASE,
)

LATENCY_METRIC = "turn_latency"
RISE_FACTOR = 1.5  # the last third's p95 at least this much above the first third's
RISE_MIN_MS = 200.0  # and at least this many milliseconds above (noise at low latencies)


def mentions_too_many_connections(text: str) -> bool:
    return bool(TOO_MANY_CONNECTIONS.search(text))


def errors(store: MetricsStore, kind: str, **tags: str) -> int:
    return store.counter("errors_total", {"kind": kind, **tags})


def server_errors(store: MetricsStore, code: str) -> int:
    return errors(store, "server_error", code=code)


def errors_mentioning_too_many_connections(store: MetricsStore) -> int:
    """errors_total whose tag values (kind, code, message...) carry SQLSTATE 53300's wording."""
    total = 0
    for key, n in store.counters.get("errors_total", {}).items():
        if any(mentions_too_many_connections(value) for _, value in key):
            total += n
    return total


def handshake_rejections(store: MetricsStore, status: str) -> int:
    return errors(store, "handshake_rejected", status=status)


def calls(store: MetricsStore) -> int:
    return sum(store.counter_by("calls_total", "outcome").values())


def latency_thirds(store: MetricsStore, metric: str = LATENCY_METRIC) -> tuple[float, float] | None:
    """p95 of the first and the last third of the seconds that saw the metric (None when fewer
    than three such seconds)."""
    seconds = [
        row["trends"][metric]["p95"] for row in store.series_rows() if metric in row["trends"]
    ]
    if len(seconds) < 3:
        return None
    third = max(1, len(seconds) // 3)
    first, last = sorted(seconds[:third]), sorted(seconds[-third:])
    return first[len(first) // 2], last[len(last) // 2]


def latency_rising(store: MetricsStore, metric: str = LATENCY_METRIC) -> tuple[bool, str]:
    """Whether the metric's per-second p95 rose from the first to the last third of the run."""
    thirds = latency_thirds(store, metric)
    if thirds is None:
        return False, f"{metric}: too few seconds to see a trend"
    early, late = thirds
    rising = late >= early * RISE_FACTOR and late - early >= RISE_MIN_MS
    return (
        rising,
        f"{metric} p95 went from {early:.0f} ms (first third) to {late:.0f} ms (last third)",
    )


def p95(store: MetricsStore, metric: str = LATENCY_METRIC) -> float | None:
    stats = store.trend(metric)
    return stats.p(95) if stats.count else None
