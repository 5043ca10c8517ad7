"""The backend's Prometheus metrics (prefix ``callbench_backend_``), on a registry owned by each
app so that two backends in one process (tests) never share counters."""

from __future__ import annotations

import psutil
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

PREFIX = "callbench_backend_"
CONTENT_TYPE = CONTENT_TYPE_LATEST


class BackendMetrics:
    """Every metric the backend exposes, registered on its own CollectorRegistry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r, p = self.registry, PREFIX
        self.active_calls = Gauge(f"{p}active_calls", "Calls in progress", registry=r)
        self.calls_total = Counter(
            f"{p}calls_total", "Calls ended, by outcome", ["outcome"], registry=r
        )
        self.db_pool_size = Gauge(f"{p}db_pool_size", "Connections open in the pool", registry=r)
        self.db_pool_idle = Gauge(f"{p}db_pool_idle", "Idle connections in the pool", registry=r)
        self.db_pool_waiting = Gauge(
            f"{p}db_pool_waiting", "Tasks waiting to acquire a connection", registry=r
        )
        self.db_errors_total = Counter(
            f"{p}db_errors_total", "Database errors, by kind", ["kind"], registry=r
        )
        self.upstream_latency_seconds = Histogram(
            f"{p}upstream_latency_seconds",
            "From response.create to the first audio delta",
            buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20),
            registry=r,
        )
        # How late the event loop wakes a 50 ms timer: a saturated loop shows it whatever else
        # eats the core (its own CPU work, or a neighbour's), where CPU percent alone may not.
        self.event_loop_lag_seconds = Histogram(
            f"{p}event_loop_lag_seconds",
            "How late the event loop ran a timer due every 50 ms",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.upstream_errors_total = Counter(
            f"{p}upstream_errors_total", "Upstream failures, by kind", ["kind"], registry=r
        )
        self.rss_bytes = Gauge(f"{p}rss_bytes", "Resident set size of the process", registry=r)
        self.rejected_sessions_total = Counter(
            f"{p}rejected_sessions_total", "Calls turned away by admission control", registry=r
        )
        self.http_requests_total = Counter(
            f"{p}http_requests_total",
            "HTTP requests, by endpoint and status",
            ["endpoint", "status"],
            registry=r,
        )
        self._process = psutil.Process()

    def render(self, pool_stats: tuple[int, int, int]) -> bytes:
        """The exposition text, with the sampled gauges (pool, RSS) refreshed first."""
        size, idle, waiting = pool_stats
        self.db_pool_size.set(size)
        self.db_pool_idle.set(idle)
        self.db_pool_waiting.set(waiting)
        self.rss_bytes.set(self._process.memory_info().rss)
        return bytes(generate_latest(self.registry))
