"""The generator's live /metrics: while a run goes, its call metrics as Prometheus series, so a
Prometheus scraping the bench sees the caller's side next to the backend's (the dashboards'
``callbench_generator_*`` panels).

The exporter listens to the run's MetricsStore (``MetricsStore.listen``) and keeps a registry of
its own per run, so runs in one process never share series:

    callbench_generator_calls_total{outcome}         counter    calls_total
    callbench_generator_errors_total{kind}           counter    errors_total
    callbench_generator_turn_latency_seconds         histogram  turn_latency
    callbench_generator_connect_time_seconds         histogram  connect_time
    callbench_generator_greeting_latency_seconds     histogram  greeting_latency
    callbench_generator_send_lag_seconds             histogram  send_lag
    callbench_generator_vus{workload}                gauge      vus

With an ``announce`` hook it tells the caller its ``host:port`` once it serves and None when it
stops: the bench's hook writes the stack Prometheus's file_sd file (bench/monitoring.py), so
Prometheus finds each run by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from generator.errors import InvalidInput
from generator.metrics.series import TagKey

PREFIX = "callbench_generator_"
# Voice latencies: a good turn is a few hundred milliseconds, a bad one several seconds.
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0)
# Send lag (how late audio frames leave) is normally a few milliseconds.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
HISTOGRAMS = {
    "turn_latency": ("turn_latency_seconds", "Caller end of speech to first response audio."),
    "connect_time": ("connect_time_seconds", "Call start to WebSocket connected."),
    "greeting_latency": ("greeting_latency_seconds", "Connected to first greeting audio."),
    "send_lag": ("send_lag_seconds", "How late audio frames were sent after their due time."),
}
COUNTERS = {  # store counter -> (metric suffix, the one tag kept as a label, help)
    "calls_total": ("calls_total", "outcome", "Calls ended, by outcome."),
    "errors_total": ("errors_total", "kind", "Errors seen by the generator, by kind."),
}


@dataclass(frozen=True)
class ExportSettings:
    """Where to serve: ``port`` 0 picks a free one; ``announce`` is told the ``host:port`` once
    the run serves and None when it stops (None: nobody is told)."""

    port: int = 0
    host: str = "127.0.0.1"
    announce: Callable[[str | None], None] | None = None
    final_scrape_wait_s: float = 3.0


class GeneratorMetrics:
    """The Prometheus side of one run's store: a listener fed every observation."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._histograms = {
            name: Histogram(
                PREFIX + suffix,
                help_text,
                registry=self.registry,
                buckets=LAG_BUCKETS if name == "send_lag" else LATENCY_BUCKETS,
            )
            for name, (suffix, help_text) in HISTOGRAMS.items()
        }
        self._counters = {
            name: (Counter(PREFIX + suffix, help_text, [label], registry=self.registry), label)
            for name, (suffix, label, help_text) in COUNTERS.items()
        }
        self._vus = Gauge(
            PREFIX + "vus",
            "Virtual users running, by workload.",
            ["workload"],
            registry=self.registry,
        )

    def observe(self, kind: str, name: str, value: float, key: TagKey) -> None:
        """MetricsStore listener: ``kind`` is t(rend, ms), c(ounter), r(ate) or g(auge)."""
        if kind == "t":
            histogram = self._histograms.get(name)
            if histogram is not None:
                histogram.observe(value / 1000.0)
        elif kind == "c":
            found = self._counters.get(name)
            if found is not None:
                counter, label = found
                counter.labels(dict(key).get(label, "")).inc(value)
        elif kind == "g" and name == "vus":
            self._vus.labels(dict(key).get("workload", "")).set(value)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsExporter:
    """Serves one run's GeneratorMetrics at ``GET /metrics`` between ``start`` and ``stop``."""

    def __init__(self, settings: ExportSettings) -> None:
        self.settings = settings
        self.metrics = GeneratorMetrics()
        self._runner: web.AppRunner | None = None
        self.address: str | None = None  # host:port once serving
        self.scrapes = 0
        self._scraped = asyncio.Event()

    async def _handle(self, _: web.Request) -> web.Response:
        self.scrapes += 1
        self._scraped.set()
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> str:
        """Listen, announce the address, and return ``host:port``."""
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = f"--metrics-port {self.settings.port}"
            raise InvalidInput(where, [f"cannot serve /metrics there: {exc}"]) from None
        self._runner = runner
        port = runner.addresses[0][1]
        host = "127.0.0.1" if self.settings.host in ("", "0.0.0.0") else self.settings.host
        self.address = f"{host}:{port}"
        if self.settings.announce is not None:
            self.settings.announce(self.address)
        return self.address

    async def stop(self) -> None:
        """Withdraw the announcement and stop serving. When Prometheus has been scraping,
        wait (bounded) for one more scrape first, so it holds the run's final numbers."""
        if self._runner is None:
            return
        if self.scrapes:
            self._scraped.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._scraped.wait(), self.settings.final_scrape_wait_s)
        if self.settings.announce is not None:
            self.settings.announce(None)
        runner, self._runner = self._runner, None
        await runner.cleanup()
