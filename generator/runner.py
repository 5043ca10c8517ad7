"""The runner: runs a Scenario's workloads, each under its load model, on one timeline, and
writes the run directory.

    RUN_DIR/run.json       scenario, workload descriptions, start time, status (written first)
    RUN_DIR/metrics.jsonl  the store's snapshots, once a second and at the end, with
    RUN_DIR/metrics.hlog   the trends' per-second HDR histograms (generator/metrics/snapshots.py)
    RUN_DIR/events.jsonl   every observation, only when RunOptions.raw_events asks (any name;
                           gzip when it ends in .gz; generator/metrics/events.py)
    RUN_DIR/summary.json   the summary (docs/summary-schema.md)
    RUN_DIR/junit.xml      one test case per threshold
    RUN_DIR/report.md      the Markdown report
    RUN_DIR/monitor.jsonl  the target monitor's samples, when the run has a monitor
    RUN_DIR/report.html    the self-contained HTML report with charts (generator/report/html.py)

Once a second it samples the `vus` gauge, writes a snapshot (store.tick), evaluates thresholds
(an abortOnFail threshold that fails with data stops the run) and updates the progress line.
SIGINT stops the run at once — running iterations are cancelled — and the summary is still
written (status `interrupted`, exit 130). Setup failures (TargetUnreachable) propagate before
any load starts.

What a run watches, serves and writes where comes from its RunOptions (generator/options.py),
built by the caller; the runner reads no flags and no module state.

With a monitor (generator/monitor), the target is sampled for a baseline before load, all
through load, and during a cooldown after it (until it recovers; Ctrl-C cuts it short) before
the summary is built; the summary then carries its evidence, the verdict and the findings.

With export settings (generator/metrics/exporter.py), the run serves its call metrics at
/metrics from its first observation to the end of the cooldown.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from generator import exitcodes
from generator.load.base import LoadRun
from generator.metrics.events import EventSink
from generator.metrics.exporter import MetricsExporter
from generator.metrics.snapshots import SnapshotWriter
from generator.metrics.store import ITERATION_TREND, MetricsStore
from generator.metrics.thresholds import Threshold, evaluate
from generator.monitor.monitor import Monitor
from generator.options import RunOptions
from generator.report.dashboard import Dashboard
from generator.report.html import write_html_report
from generator.report.junit import render_junit
from generator.report.markdown import render_markdown
from generator.report.summary import build_summary, live_figures
from generator.report.summary_model import Summary
from generator.report.terminal import render_progress
from generator.scenario import Scenario
from generator.workloads.base import IterationContext, Workload
from generator.workloads.registry import build_workloads


@dataclass(frozen=True)
class RunOutcome:
    summary: Summary
    exit_code: int
    out_dir: Path


def default_out_dir() -> Path:
    return Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def workload_meta(scenario: Scenario) -> dict[str, dict[str, Any]]:
    return {
        name: {"type": spec.type, "executor": spec.load.executor, "max_vus": spec.load.max_vus}
        for name, spec in scenario.workloads.items()
    }


def write_outputs(
    out_dir: Path,
    summary: Summary,
    store: MetricsStore,
    runbooks: Path | None = None,
    reports: bool = True,
) -> None:
    """The reports of a finished run from the store that recorded (or merged) it; ``runbooks``
    is where the findings' runbooks are (the HTML report links them). Without ``reports``,
    summary.json only."""
    (out_dir / "summary.json").write_text(summary.dumps() + "\n", encoding="utf-8")
    if not reports:
        return
    (out_dir / "junit.xml").write_text(render_junit(summary), encoding="utf-8")
    (out_dir / "report.md").write_text(render_markdown(summary), encoding="utf-8")
    write_html_report(out_dir, summary, store.series_rows(), runbooks)


class Runner:
    """One run of ``scenario`` as ``options`` say (generator/options.py). ``workloads`` default
    to the ones the scenario describes (generator/workloads/registry.py); a caller passes its own
    to hold what the scenario must not (secrets) or a test's."""

    def __init__(
        self,
        scenario: Scenario,
        options: RunOptions,
        workloads: Mapping[str, Workload] | None = None,
    ) -> None:
        self.scenario = scenario
        self.options = options
        self.workloads = dict(build_workloads(scenario) if workloads is None else workloads)
        self.out_dir = options.out_dir
        self.progress = options.progress
        self.timeline = options.timeline
        self.handle_sigint = options.handle_sigint
        self.monitor = options.new_monitor()
        self.exporter = None if options.export is None else MetricsExporter(options.export)
        settings = options.dashboard
        self.dashboard = None if settings is None else Dashboard(settings, scenario.name)
        self.thresholds: list[Threshold] = scenario.parsed_thresholds()
        self.status = "completed"
        self.runs: dict[str, LoadRun] = {}
        self._warned: set[str] = set()

    def stop(self, status: str, hard: bool) -> None:
        if self.status == "completed":
            self.status = status
        for run in self.runs.values():
            run.stop.set()
            if hard:
                run.hard_stop.set()

    async def run(self) -> RunOutcome:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {
            "name": self.scenario.name,
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "scenario": self.scenario.model_dump(mode="json"),
            "workloads": workload_meta(self.scenario),
            "status": "running",
        }
        monitor = self.monitor
        if monitor is not None:
            c = monitor.config
            meta["monitor"] = {
                "interval_s": c.interval_s,
                "cooldown_s": c.cooldown_s,
                "memory_tolerance": c.memory_tolerance,
                "db_tolerance": c.db_tolerance,
            }
        raw_path = self.options.raw_events_path
        if raw_path is not None:
            meta["raw_events"] = str(self.options.raw_events)
        self._write_meta(meta)
        writer: SnapshotWriter | None = None
        sink: EventSink | None = None
        try:
            if self.dashboard is not None:
                await self.dashboard.start()
            for workload in self.workloads.values():
                await workload.setup()
            if monitor is not None:
                await monitor.open(
                    self.out_dir / "monitor.jsonl", self.timeline.clock, self.timeline.sleep
                )
                if not await self._interruptible(monitor.baseline()):
                    self.status = "interrupted"
            writer = SnapshotWriter(self.out_dir, tee=self.options.snapshot_tee)
            if raw_path is not None:
                sink = EventSink(raw_path, clock=self.timeline.clock)
            store = MetricsStore(clock=self.timeline.clock, snapshots=writer, sink=sink)
            if self.dashboard is not None:
                self.dashboard.watch(store, None if monitor is None else lambda: monitor.samples)
            if self.exporter is not None:
                store.listen(self.exporter.metrics.observe)
                await self.exporter.start()
            if monitor is not None:
                monitor.start_load(store.t0)
            try:
                if self.status != "interrupted":
                    await self._load(store)
            finally:
                if monitor is not None:
                    await monitor.end_load()
                for workload in self.workloads.values():
                    try:
                        await workload.teardown()
                    except Exception as exc:  # a broken teardown must not lose the results
                        print(f"callbench: teardown of {workload.name}: {exc}", file=sys.stderr)
                store.finish()
            if monitor is not None and self.status != "interrupted":
                await self._cooldown(monitor)
        finally:
            if writer is not None:
                writer.close()
            if sink is not None:
                sink.close()
            if monitor is not None:
                await monitor.close()
            if self.exporter is not None:
                await self.exporter.stop()
            if self.dashboard is not None:
                await self.dashboard.stop()
        meta["status"] = self.status
        self._write_meta(meta)
        evidence = None if monitor is None else monitor.evidence(store.ended_at)
        summary = build_summary(store, evaluate(store, self.thresholds), meta, evidence)
        write_outputs(self.out_dir, summary, store, self.options.runbooks, self.options.reports)
        if self.status == "interrupted":
            code = exitcodes.INTERRUPTED
        else:
            code = exitcodes.PASSED if summary.passed else exitcodes.FAILED
        return RunOutcome(summary, code, self.out_dir)

    async def _interruptible(self, work: Coroutine[Any, Any, None]) -> bool:
        """Runs ``work``; Ctrl-C cancels it. False when it was cut short that way."""
        task = asyncio.ensure_future(work)
        if not self.handle_sigint:
            await task
            return True
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        try:
            await asyncio.wait({task})
        finally:
            loop.remove_signal_handler(signal.SIGINT)
        if task.cancelled():
            return False
        task.result()
        return True

    async def _cooldown(self, monitor: Monitor) -> None:
        seconds = monitor.config.cooldown_s
        if seconds >= 5:
            print(
                f"callbench: watching the target recover (up to {seconds:g} s; Ctrl-C skips)",
                file=sys.stderr,
            )
        await self._interruptible(monitor.cooldown())

    def _write_meta(self, meta: dict[str, Any]) -> None:
        text = json.dumps(meta, indent=2) + "\n"
        (self.out_dir / "run.json").write_text(text, encoding="utf-8")

    async def _load(self, store: MetricsStore) -> None:
        loop = asyncio.get_running_loop()
        for name in self.scenario.workloads:
            self.runs[name] = LoadRun(self._body(name, store), store, name, self.timeline)
        if self.handle_sigint:
            loop.add_signal_handler(signal.SIGINT, self.stop, "interrupted", True)
        models = [
            asyncio.create_task(spec.load.execute(self.runs[name]))
            for name, spec in self.scenario.workloads.items()
        ]
        ticker = asyncio.create_task(self._every_second(store))
        try:
            await asyncio.gather(*models)
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            if self.handle_sigint:
                loop.remove_signal_handler(signal.SIGINT)
            self._sample(store)
            if self.progress is not None:
                self.progress.write("\n")

    def _body(self, name: str, store: MetricsStore) -> Callable[[int, int, float], Any]:
        workload, seed, clock = self.workloads[name], self.scenario.seed, self.timeline.clock
        tags = {"workload": name}
        # A workload may record its iterations itself, in one step with its own metrics
        # (workloads/http.py); for every other one (and a crashed iteration) the runner does.
        own = getattr(workload, "records_iterations", False) is True and workload.name == name

        async def body(vu: int, iteration: int, intended: float) -> None:
            ctx = IterationContext(
                vu, iteration, intended, store, seed=f"{seed}/{name}/{iteration}"
            )
            try:
                await workload.iteration(ctx)
                if own:
                    return
            except Exception as exc:  # workloads record target failures; this is a bug in one
                store.add_counter("errors_total", 1, {"kind": "iteration_crash", **tags})
                if name not in self._warned:
                    self._warned.add(name)
                    print(f"callbench: {name} iteration crashed: {exc!r}", file=sys.stderr)
            store.add_counter("iterations", 1, tags)
            store.add_trend(ITERATION_TREND, (clock() - intended) * 1000.0, tags)

        return body

    def _sample(self, store: MetricsStore) -> None:
        for name, run in self.runs.items():
            store.add_gauge("vus", run.vus, {"workload": name})

    async def _every_second(self, store: MetricsStore) -> None:
        while True:
            await self.timeline.sleep(1.0)
            self._sample(store)
            store.tick()  # the second's figures into the series: thresholds, the live page
            self._check_abort(store)
            if self.progress is not None:
                vus = sum(run.vus for run in self.runs.values())
                line = render_progress(live_figures(store, vus))
                self.progress.write("\r" + line + "\x1b[K")
                self.progress.flush()

    def _check_abort(self, store: MetricsStore) -> None:
        elapsed = store.elapsed()
        watched = [
            t for t in self.thresholds if t.abort_on_fail and elapsed >= t.delay_abort_eval_s
        ]
        for result in evaluate(store, watched):
            if result.value is not None and not result.ok:
                print(f"\ncallbench: threshold {result.expr} failed; aborting", file=sys.stderr)
                self.stop("aborted", hard=True)
                return


async def run_scenario(
    scenario: Scenario,
    options: RunOptions,
    workloads: Mapping[str, Workload] | None = None,
) -> RunOutcome:
    return await Runner(scenario, options, workloads).run()


def progress_stream() -> TextIO | None:
    """stderr when it is a terminal (the live line would litter logs and pipes)."""
    with contextlib.suppress(AttributeError, ValueError):
        if sys.stderr.isatty():
            return sys.stderr
    return None
