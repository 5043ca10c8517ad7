"""The live dashboard (`--dashboard [PORT]`): a page on 127.0.0.1 that charts a run while it goes,
as k6's web dashboard does, from the same figures as report.html.

    settings = DashboardSettings(port=0)       # 0: any free port; the URL is printed
    dashboard = Dashboard(settings, "my-run")
    await dashboard.start()                     # serves / and /data.json; InvalidInput if the
                                                # port is taken
    dashboard.watch(store, lambda: monitor.samples)   # once the run's store exists
    ...
    await dashboard.stop()                      # at the end of the run: nothing left serving

A `--workers N` run's page is served by its parent from the store it combines the workers'
snapshots into (dashboard_thread.py): `follow` takes that store as a function (it is replaced
once every worker has started) and the lock under which the parent changes it.

The page (dashboard_page.py) polls /data.json once a second and redraws its charts as inline SVG:
no script, style or font from the network (its Content-Security-Policy forbids any). The data are
the HTML report's charts (html_data.series_charts over the store's per-second rows, and
html_data.target_charts over the monitor's samples) over the whole run: the newest seconds as
they are, the older ones thinned (RowCache, thinning.py; the monitor's history.py), so that no
line holds more than MAX_POINTS points however long the run.

The server runs in the run's event loop. So that an hours-long soak's page does not hold its
load up, the data are built when asked for, at most once a second (and every KEEP_S unasked, so
the rows of seconds the store lets go are built before it does), from rows kept between builds
(RowCache: only the newest seconds' rows are built again), and the charts and the JSON in a
thread, from copies; a build that grows costly waits ten times its cost before the next one
(the page's share of the CPU stays under a tenth).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from aiohttp import web

from generator.errors import InvalidInput
from generator.metrics.series import Second, Series
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
from generator.report.terminal import live_traffic
from generator.report.thinning import RowLadder

MAX_POINTS = 600  # per line: RowCache's and the monitor history's bounds stay under it
REFRESH_S = 1.0
KEEP_S = 15.0  # rows are built at least this often, asked or not (well inside the store's minute)
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
Source = Callable[[], MetricsStore | None]
Guard = AbstractContextManager[Any]


def _number(value: float) -> float | None:
    """JSON has no NaN or infinity; a figure that is not finite is a gap."""
    return round(value, 3) if math.isfinite(value) else None


def thin(line: Line, max_points: int = MAX_POINTS) -> Line:
    """At most ``max_points`` points: consecutive points averaged in equal runs. A guard only:
    the rows and the monitor's samples are thinned honestly before (RowCache, history.py)."""
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
                **({"ws": list(line.widths)} if line.widths else {}),
            }
            for line in lines
        ],
        "refs": [[label, _number(y)] for label, y in chart.refs],
        "band": None if chart.band is None else [_number(y) for y in chart.band],
        "spans": [[_number(x0), _number(x1), phase] for x0, x1, phase in chart.spans],
        "empty_note": chart.empty_note,
        "note": chart.note,
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


def figures_now(name: str, store: MetricsStore | None) -> dict[str, Any]:
    """The run's name, phase and live figures (the progress line's), as /data.json leads:
    ``figures`` is a list of [label, value] in the order shown."""
    figures: list[list[str]] = []
    phase = "starting" if store is None else "load" if store.ended_at is None else "after load"
    if store is not None:
        live = live_figures(store, int(store.gauge("vus")[0]))
        p95 = live.turn_p95_ms
        figures = [
            ["elapsed", f"{live.elapsed_s:.1f} s"],
            ["VUs", str(live.vus)],
            *([part, ""] for part in live_traffic(live)),
            ["iterations", str(live.iterations)],
            ["errors", str(live.errors)],
            ["dropped", str(live.dropped)],
            [f"{live.latency} p95", "-" if p95 is None else f"{p95:.0f} ms"],
        ]
    return {"name": name, "phase": phase, "figures": figures}


def payload(
    name: str, store: MetricsStore | None, samples: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """What /data.json serves: the run's figures now and its charts (report.html's)."""
    rows = [] if store is None else store.series_rows()
    charts = live_charts(rows, 0.0 if store is None else store.elapsed(), samples)
    return {**figures_now(name, store), "charts": [chart_json(c) for c in charts]}


def _encode(
    head: dict[str, Any],
    rows: list[dict[str, Any]],
    elapsed: float,
    samples: list[dict[str, Any]],
) -> bytes:
    """The /data.json body from copies only (it runs in a thread while the load goes on)."""
    charts = [chart_json(c) for c in live_charts(rows, elapsed, samples)]
    return json.dumps({**head, "charts": charts}, separators=(",", ":"), allow_nan=False).encode()


def _mark(data: Second | None) -> tuple[int, int] | None:
    """What can change in a second after it has passed: an iteration counts where it started
    and where it ran (series.Pending.span) only once it ends, maybe minutes later."""
    return None if data is None else (data.started, data.busy_us)


class RowCache:
    """The store's per-second rows (MetricsStore.series_rows's), kept between builds: a row is
    built again only while its second may still gain observations (the last OPEN_S) or when an
    iteration that ran through it has ended since, so a build of an hours-long run costs the
    seconds that changed, not all of them. The newest TAIL_S seconds' rows are kept as they are;
    older ones (the store lets its seconds go after a minute: window.py) go into a RowLadder,
    thinned to at most LADDER_ROWS rows (thinning.py), so the page charts the whole run in a
    bounded number of points. Each row is a new dict, never changed after it is handed out (a
    thread may read them while the loop goes on)."""

    OPEN_S = 3  # the newest seconds may still gain observations (an iteration's end, a fold)
    CHUNK = 1000  # seconds' rows built at one go (~50 ms) before the loop gets a turn
    TAIL_S = 240  # the newest seconds charted second by second
    LADDER_ROWS = 300  # the older seconds' rows, thinned: TAIL_S + these stay under MAX_POINTS

    def __init__(self, open_s: int | None = None) -> None:
        self.open_s = self.OPEN_S if open_s is None else open_s
        self._rows: dict[int, dict[str, Any]] = {}
        self._marks: dict[int, tuple[int, int] | None] = {}
        self._final_to: int | None = None  # rows up to this second need no rebuild but by mark
        self._ladder = RowLadder(self.LADDER_ROWS)
        self.newest: int | None = None  # the newest second whose row is built

    async def rows(self, store: MetricsStore, guard: Guard | None = None) -> list[dict[str, Any]]:
        """The rows so far, oldest first (the older ones thinned); ``guard`` is held while the
        store is read (a lock another thread holds while it changes the store), and let go
        between chunks."""
        guard = guard or contextlib.nullcontext()
        with guard:
            seconds = store.series.seconds
            if not seconds:
                return list(self._ladder.rows)
            first, newest = min(seconds), max(seconds)
            laddered = self._ladder.end()
            if laddered is not None:  # the seconds before it are in the ladder
                first = max(first, laddered)
            final_to = self._final_to if self._final_to is not None else first - 1
            stale = [
                t
                for t in range(first, newest + 1)
                if t > final_to
                or t not in self._rows
                or self._marks.get(t) != _mark(seconds.get(t))
            ]
        for start in range(0, len(stale), self.CHUNK):
            if start:
                await asyncio.sleep(0)  # a page opened late in a soak: let the load run between
            with guard:
                self._build(store.series.seconds, stale[start : start + self.CHUNK])
        self._final_to = newest - self.open_s
        self.newest = newest
        # Rows older than the tail are final here (the store lets go of a second a minute on):
        # into the ladder, kept however long the run, thinned.
        for t in sorted(t for t in self._rows if t <= newest - self.TAIL_S):
            self._ladder.add(self._rows.pop(t))
            self._marks.pop(t, None)
        return self._ladder.rows + [self._rows[t] for t in sorted(self._rows) if t <= newest]

    def held(self) -> int:
        """How many rows are held (the tail's and the ladder's): bounded, however long the run."""
        return len(self._rows) + len(self._ladder.rows)

    def _build(self, seconds: Mapping[int, Second], stale: list[int]) -> None:
        part = Series()
        part.seconds = {t: seconds[t] for t in stale if t in seconds}
        # (the Seconds themselves are shared: rows() holds the guard while they are read)
        for t in stale:
            part.at(t)  # in the copy only: a quiet second is a row too
        wanted = set(stale)
        for row in part.rows():
            if row["t"] in wanted:
                self._rows[row["t"]] = row
                self._marks[row["t"]] = _mark(seconds.get(row["t"]))


class Dashboard:
    """The live page of one run, served from the run's event loop (see the module docstring)."""

    def __init__(self, settings: DashboardSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.url: str | None = None
        self._store: MetricsStore | None = None  # the store the cached rows are of
        self._source: Source = lambda: None
        self._guard: Guard = contextlib.nullcontext()
        self._open_s: int | None = None  # RowCache's default
        self._samples: Samples = lambda: ()
        self._runner: web.AppRunner | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._body = b""
        self._next_build = 0.0
        self._lock = asyncio.Lock()
        self.cache = RowCache()  # the rows kept between builds (of self._store)

    def watch(self, store: MetricsStore, samples: Samples | None = None) -> None:
        """Chart ``store`` (and the monitor's ``samples``) from now on."""
        self.follow(lambda: store, samples)

    def follow(
        self,
        source: Source,
        samples: Samples | None = None,
        guard: Guard | None = None,
        open_s: int | None = None,
    ) -> None:
        """Chart whatever store ``source`` returns at each build (when it changes, its rows are
        built from scratch), read while holding ``guard`` (the lock under which another thread
        changes it), and the monitor's ``samples``; ``open_s``: how many of the newest seconds
        may still gain observations (RowCache.OPEN_S by default)."""
        self._source = source
        self._guard = guard or contextlib.nullcontext()
        self._open_s = open_s
        self._store = None
        if samples is not None:
            self._samples = samples
        self._next_build = 0.0

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/data.json", self._data)
        # A page's poll may be waiting when the run ends: stopping does not wait a minute for it.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
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
        self._keeper = asyncio.create_task(self._keep())
        port = runner.addresses[0][1]
        self.url = f"http://{HOST}:{port}/"
        out = self.settings.announce or sys.stderr
        print(f"callbench: live dashboard at {self.url} (while the run goes)", file=out)
        out.flush()
        return self.url

    async def _keep(self) -> None:
        """Builds the rows every KEEP_S even when no page asks, so that a page opened late in
        a soak still charts the seconds its store has let go (a minute on: window.py)."""
        while True:
            await asyncio.sleep(KEEP_S)
            async with self._lock:
                with self._guard:
                    store = self._source()
                if store is not self._store:
                    self._store, self.cache = store, RowCache(self._open_s)
                if store is not None:
                    await self.cache.rows(store, self._guard)

    async def stop(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def data(self) -> bytes:
        """The current /data.json body, rebuilt when it is due (module docstring). The figures
        and the new rows are taken in the loop; the charts and the JSON are built from copies in
        a thread, so a long run's build does not hold the load up."""
        async with self._lock:
            now = time.monotonic()
            if self._body and now < self._next_build:
                return self._body
            with self._guard:
                store = self._source()
                head = figures_now(self.name, store)
                elapsed = 0.0 if store is None else store.elapsed()
            if store is not self._store:  # a source's new store: none of its rows are built
                self._store, self.cache = store, RowCache(self._open_s)
            rows = [] if store is None else await self.cache.rows(store, self._guard)
            # The monitor's samples in memory are bounded (its history thins the older ones,
            # monitor/history.py): copied whole at each build.
            samples = [dict(s) for s in self._samples()]
            started = time.perf_counter()
            self._body = await asyncio.to_thread(_encode, head, rows, elapsed, samples)
            cost = time.perf_counter() - started
            self._next_build = time.monotonic() + max(REFRESH_S, cost / COST_SHARE)
            return self._body

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", headers=HEADERS)

    async def _data(self, request: web.Request) -> web.Response:
        body = await self.data()
        return web.Response(body=body, content_type="application/json", headers=HEADERS)


__all__ = [
    "Dashboard",
    "DashboardSettings",
    "RowCache",
    "chart_json",
    "figures_now",
    "live_charts",
    "payload",
    "thin",
]
