"""The live dashboard (`--dashboard [PORT]`): a page on 127.0.0.1 that charts a run while it goes,
as k6's web dashboard does, from the same figures as report.html.

    settings = DashboardSettings(port=0)       # 0: any free port; the URL is printed
    dashboard = Dashboard(settings, "my-run")
    await dashboard.start()                     # serves / and /data.json; InvalidInput if the
                                                # port is taken
    dashboard.watch(store, lambda: monitor.samples)   # once the run's store exists
    ...
    await dashboard.stop()                      # at the end of the run: nothing left serving

The page (dashboard_page.py) polls /data.json once a second and redraws its charts as inline SVG:
no script, style or font from the network (its Content-Security-Policy forbids any). The data are
the HTML report's charts (html_data.series_charts over the store's per-second rows, and
html_data.target_charts over the monitor's samples), each line thinned to at most MAX_POINTS.

The server runs in the run's event loop, so building the data takes the load's time: it is built
only when asked for, at most once a second and, on a long run where it grows costly, no more than
a tenth of the time (each build waits ten times as long as the last one took).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from generator.errors import InvalidInput
from generator.metrics.store import MetricsStore
from generator.report.dashboard_page import PAGE
from generator.report.dashboard_settings import HOST, DashboardSettings
from generator.report.html_data import (
    Chart,
    Line,
    sampled_rss_baseline,
    series_charts,
    target_charts,
)
from generator.report.summary import live_figures

MAX_POINTS = 600  # per line; a long run's seconds are averaged into wider steps
REFRESH_S = 1.0
COST_SHARE = 0.1  # at most this share of the loop's time goes to building the data
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src data:"
    ),
    "X-Content-Type-Options": "nosniff",
}
Samples = Callable[[], Sequence[Mapping[str, Any]]]


def _number(value: float) -> float | None:
    """JSON has no NaN or infinity; a figure that is not finite is a gap."""
    return round(value, 3) if math.isfinite(value) else None


def thin(line: Line, max_points: int = MAX_POINTS) -> Line:
    """At most ``max_points`` points: consecutive points averaged in equal runs."""
    n = len(line.xs)
    if n <= max_points:
        return line
    width = -(-n // max_points)
    xs, ys = [], []
    for start in range(0, n, width):
        chunk_x, chunk_y = line.xs[start : start + width], line.ys[start : start + width]
        xs.append(sum(chunk_x) / len(chunk_x))
        ys.append(sum(chunk_y) / len(chunk_y))
    return Line(line.label, tuple(xs), tuple(ys))


def chart_json(chart: Chart) -> dict[str, Any]:
    """One chart as the page draws it."""
    lines = [thin(line) for line in chart.lines]
    return {
        "title": chart.title,
        "ylabel": chart.ylabel,
        "kind": chart.kind,
        "lines": [
            {
                "label": line.label,
                "xs": [_number(x) for x in line.xs],
                "ys": [_number(y) for y in line.ys],
            }
            for line in lines
        ],
        "refs": [[label, _number(y)] for label, y in chart.refs],
        "band": None if chart.band is None else [_number(y) for y in chart.band],
        "spans": [[_number(x0), _number(x1), phase] for x0, x1, phase in chart.spans],
        "empty_note": chart.empty_note,
    }


def live_charts(
    rows: list[dict[str, Any]], elapsed: float, samples: Sequence[Mapping[str, Any]]
) -> list[Chart]:
    """report.html's charts of the run so far: the store's per-second ``rows`` over ``elapsed``
    seconds, and the monitor's ``samples`` (its RSS baseline: theirs, the summary being still
    to come)."""
    monitor = [dict(s) for s in samples]
    return series_charts(rows, elapsed) + target_charts(
        monitor, sampled_rss_baseline(monitor), "no target monitor in this run"
    )


def payload(
    name: str, store: MetricsStore | None, samples: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """What /data.json serves: the run's figures now and its charts (report.html's)."""
    rows = [] if store is None else store.series_rows()
    charts = live_charts(rows, 0.0 if store is None else store.elapsed(), samples)
    figures: dict[str, Any] = {}
    phase = "starting" if store is None else "load" if store.ended_at is None else "after load"
    if store is not None:
        live = live_figures(store, int(store.gauge("vus")[0]))
        figures = {
            "elapsed_s": round(live.elapsed_s, 1),
            "vus": live.vus,
            "iterations": live.iterations,
            "calls_succeeded": live.succeeded,
            "calls_failed": live.failed,
            "errors": live.errors,
            "dropped": live.dropped,
        }
    return {
        "name": name,
        "phase": phase,
        "figures": figures,
        "charts": [chart_json(c) for c in charts],
    }


class Dashboard:
    """The live page of one run, served from the run's event loop (see the module docstring)."""

    def __init__(self, settings: DashboardSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.url: str | None = None
        self._store: MetricsStore | None = None
        self._samples: Samples = lambda: ()
        self._runner: web.AppRunner | None = None
        self._body = b""
        self._next_build = 0.0

    def watch(self, store: MetricsStore, samples: Samples | None = None) -> None:
        """Chart ``store`` (and the monitor's ``samples``) from now on."""
        self._store = store
        if samples is not None:
            self._samples = samples
        self._next_build = 0.0

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/data.json", self._data)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, HOST, self.settings.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise InvalidInput(
                "--dashboard",
                [
                    f"cannot serve on {HOST}:{self.settings.port} ({exc.strerror or exc}); "
                    "give another port, or none for a free one"
                ],
            ) from None
        self._runner = runner
        port = runner.addresses[0][1]
        self.url = f"http://{HOST}:{port}/"
        out = self.settings.announce or sys.stderr
        print(f"callbench: live dashboard at {self.url} (while the run goes)", file=out)
        out.flush()
        return self.url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def data(self) -> bytes:
        """The current /data.json body, rebuilt when it is due (module docstring)."""
        now = time.monotonic()
        if not self._body or now >= self._next_build:
            started = time.perf_counter()
            found = payload(self.name, self._store, self._samples())
            self._body = json.dumps(found, separators=(",", ":"), allow_nan=False).encode()
            cost = time.perf_counter() - started
            self._next_build = now + max(REFRESH_S, cost / COST_SHARE)
        return self._body

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", headers=HEADERS)

    async def _data(self, request: web.Request) -> web.Response:
        return web.Response(body=self.data(), content_type="application/json", headers=HEADERS)


__all__ = ["Dashboard", "DashboardSettings", "chart_json", "live_charts", "payload", "thin"]
