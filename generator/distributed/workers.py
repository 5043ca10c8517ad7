"""`--workers N`: one run in N processes, judged as one.

The parent starts N children with multiprocessing's spawn (a fresh interpreter each, no forked
event loop or sockets). Each child runs its `WorkerEntry`: a function named `module:function`,
resolved in the child by importlib and given the caller's (picklable) argument and its
`WorkerSlice` — slice I of N (generator/distributed/split.py) into OUT/workers/I, with no
thresholds of its own, its stdout and stderr in files there. The CLI's entry re-runs the same
command on the same flags (bench/commands/run_options.py); without one, `scenario_entry` runs
the slice from the scenario alone.

Each child hands its snapshots to the parent over a pipe as it writes them, once a second and at
the end (handover.py); the parent combines them into one live store as they arrive, written into
OUT as the merged run's snapshots, and once a second evaluates the abortOnFail thresholds and
draws the progress line on it — the merged figures, not any one child's. When a threshold
fails, or on Ctrl-C, or when a child dies of a setup error, the parent sends SIGINT to every
child still running; the generator's runner stops on SIGINT and still writes its results. At the
end the parent writes the merged run's summary and reports from that store (merge.py); only
the children's run.json files are read (and their `--raw-events` files, when asked for).
With `--dashboard` the parent serves the live page of that store (report/dashboard_thread.py).
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TextIO, cast

from generator import exitcodes
from generator.distributed.combined import Combined
from generator.distributed.fastloop import run
from generator.distributed.handover import Handover, SnapshotSender
from generator.distributed.merge import merge_run_dirs
from generator.distributed.parent_monitor import ParentMonitor
from generator.distributed.split import split_scenario
from generator.errors import InvalidInput, RunBroken, TargetUnreachable, exit_code_of
from generator.metrics.readback import has_results
from generator.metrics.snapshots import Tee
from generator.metrics.store import MetricsStore
from generator.metrics.thresholds import Threshold, evaluate
from generator.options import RunOptions
from generator.report.dashboard_thread import DashboardThread, served
from generator.report.summary import live_figures
from generator.report.terminal import render_progress
from generator.runner import Runner, RunOutcome
from generator.scenario import Scenario

TICK_S = 1.0
STOP_GRACE_S = 60.0  # after SIGINT, how long a child may take to write its results


@dataclass(frozen=True)
class WorkerSlice:
    """What one worker process runs: slice ``index`` of ``count`` into ``out_dir``; its
    snapshots also go to ``channel`` (the parent's pipe; None: files only)."""

    index: int
    count: int
    out_dir: Path
    channel: Connection | None = None

    def snapshot_tee(self) -> Tee | None:
        """The tee that hands this slice's snapshots to the parent (None: no pipe)."""
        return None if self.channel is None else SnapshotSender(self.channel)


@dataclass(frozen=True)
class WorkerEntry:
    """How a worker process runs its slice: ``target`` names a function (`module:function`)
    that the child imports and calls as ``function(argument, WorkerSlice)``; it returns the exit
    code. ``argument`` (picklable) is what the caller needs to rebuild its run there."""

    target: str
    argument: object = None

    def resolve(self) -> Any:
        module, sep, name = self.target.partition(":")
        if not sep or not module or not name:
            raise ValueError(f"worker entry {self.target!r} is not module:function")
        return getattr(importlib.import_module(module), name)


def scenario_entry(scenario: Scenario) -> WorkerEntry:
    """The entry of a caller with no command to re-run: the slice from the scenario alone."""
    return WorkerEntry(f"{__name__}:run_scenario_slice", scenario.model_dump(mode="json"))


def run_scenario_slice(data: object, part: WorkerSlice) -> int:
    """`scenario_entry`'s function: slice ``part`` of the scenario ``data``, with the workloads
    it describes, no thresholds and no monitor (the parent judges and watches)."""
    try:
        scenario = Scenario.model_validate(data)
        piece = split_scenario(scenario, part.index, part.count)
        if piece is None:
            raise InvalidInput("worker slice", [f"{part.index}/{part.count} holds no work"])
        piece = piece.model_copy(update={"thresholds": []})
        options = RunOptions(part.out_dir, snapshot_tee=part.snapshot_tee(), reports=False)
        return run(Runner(piece, options).run()).exit_code
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED
    except Exception as exc:
        code = exit_code_of(exc)
        if code is None:
            raise
        print(f"callbench: error: {exc}", file=sys.stderr)
        return code


def child_main(entry: WorkerEntry, part: WorkerSlice) -> None:
    """A worker process's entry point (spawned; must stay importable and picklable)."""
    part.out_dir.mkdir(parents=True, exist_ok=True)
    with (
        (part.out_dir / "stdout.txt").open("w", encoding="utf-8") as out,
        (part.out_dir / "stderr.txt").open("w", encoding="utf-8") as err,
    ):
        sys.stdout, sys.stderr = out, err
        code = int(cast(int, entry.resolve()(entry.argument, part)))
        out.flush()
        err.flush()
    if part.channel is not None:
        part.channel.close()  # the parent reads to this pipe's end
    # Every file is written and closed: the interpreter's teardown (module cleanup, a few tenths
    # of a second with the generator loaded) would only delay the parent's end of the run.
    os._exit(code)


class Supervisor:
    """Watches N running children: their snapshots combined live, thresholds, stop signals."""

    def __init__(
        self,
        procs: list[BaseProcess],
        handover: Handover,
        thresholds: list[Threshold],
        progress: TextIO | None,
    ) -> None:
        self.procs = procs
        self.handover = handover
        self.watched = [t for t in thresholds if t.abort_on_fail]
        self.progress = progress
        self.status: str | None = None  # set when the parent stopped the children
        self.stopped = False
        self._next_check = time.monotonic() + TICK_S

    @property
    def store(self) -> MetricsStore:
        return self.handover.store

    def stop_children(self) -> None:
        self.stopped = True
        for proc in self.procs:
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGINT)

    def poll(self) -> None:
        self.handover.poll()
        now = time.monotonic()
        if now < self._next_check:
            return  # snapshots arrive whenever a child writes one; the checks run once a second
        self._next_check = now + TICK_S
        self.check()

    def check(self) -> None:
        if not self.stopped:
            self._check_abort()
            self._check_failed_children()
        if self.progress is not None:
            vus = int(self.store.gauge("vus")[0])
            line = render_progress(live_figures(self.store, vus))
            self.progress.write("\r" + line + "\x1b[K")
            self.progress.flush()

    def _check_abort(self) -> None:
        elapsed = self.store.elapsed()
        watched = [t for t in self.watched if elapsed >= t.delay_abort_eval_s]
        for result in evaluate(self.store, watched):
            if result.value is not None and not result.ok:
                print(f"\ncallbench: threshold {result.expr} failed; aborting", file=sys.stderr)
                self.status = "aborted"
                self.stop_children()
                return

    def _check_failed_children(self) -> None:
        # A child that could not start (bad input, target unreachable) dooms the run.
        for proc in self.procs:
            if proc.exitcode in (exitcodes.INVALID_INPUT, exitcodes.INFRASTRUCTURE):
                self.stop_children()
                return

    def run(self) -> None:
        deadline: float | None = None
        while any(p.is_alive() for p in self.procs):
            try:
                alive = [p.sentinel for p in self.procs if p.is_alive()]
                timeout = max(0.0, self._next_check - time.monotonic())
                wait([*alive, *self.handover.waitables()], timeout=timeout)
                self.poll()
            except KeyboardInterrupt:
                self.status = "interrupted"
                self.stop_children()
            if self.stopped and deadline is None:
                deadline = time.monotonic() + STOP_GRACE_S
            if deadline is not None and time.monotonic() > deadline:
                for proc in self.procs:
                    if proc.is_alive():
                        proc.kill()
        for proc in self.procs:
            proc.join()
        self.handover.drain()
        self.check()
        if self.progress is not None:
            self.progress.write("\n")


def _preload_reports() -> None:
    """Loads what the merged HTML report draws with (Matplotlib: most of a second) while the
    children run and this process mostly waits, rather than after their load."""

    def load() -> None:
        with contextlib.suppress(ImportError):
            importlib.import_module("matplotlib.figure")
            importlib.import_module("matplotlib.backends.backend_svg")

    threading.Thread(target=load, name="callbench-preload", daemon=True).start()


def last_error(run_dir: Path) -> str:
    try:
        lines = (run_dir / "stderr.txt").read_text(encoding="utf-8").strip().splitlines()
    except OSError:
        return "no error output"
    return lines[-1].removeprefix("callbench: error: ") if lines else "no error output"


def run_workers(
    entry: WorkerEntry, scenario: Scenario, options: RunOptions, count: int
) -> RunOutcome:
    """Runs ``entry`` in ``count`` worker processes and merges them into ``options.out_dir``;
    the target monitor the options ask for samples from here (parent_monitor.py), and the live
    dashboard they ask for is served from here."""
    with served(options.dashboard, scenario.name) as page:
        monitor = options.new_monitor()
        if monitor is None:
            return _run_children(entry, scenario, options, count, None, page)
        watcher = ParentMonitor(monitor)
        try:
            return _run_children(entry, scenario, options, count, watcher, page)
        finally:
            watcher.close()


def _run_children(
    entry: WorkerEntry,
    scenario: Scenario,
    options: RunOptions,
    count: int,
    watcher: ParentMonitor | None,
    page: DashboardThread | None = None,
) -> RunOutcome:
    out_dir = options.out_dir
    extra: dict[str, object] = {"workers": count}
    if watcher is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            watcher.baseline(out_dir / "monitor.jsonl")
        except KeyboardInterrupt:
            reason = "interrupted during the baseline; no load was sent"
            raise RunBroken("monitor", reason) from None
        c = watcher.monitor.config
        extra["monitor"] = {
            "interval_s": c.interval_s,
            "cooldown_s": c.cooldown_s,
            "memory_tolerance": c.memory_tolerance,
            "db_tolerance": c.db_tolerance,
        }
        watcher.start_load()
    context = multiprocessing.get_context("spawn")
    dirs = [out_dir / "workers" / str(i) for i in range(count)]
    procs: list[BaseProcess] = []
    readers: list[Connection] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, run_dir in enumerate(dirs):
        reader, writer = context.Pipe(duplex=False)
        part = WorkerSlice(index, count, run_dir, writer)
        proc = context.Process(
            target=child_main, args=(entry, part), name=f"callbench-worker-{index}"
        )
        proc.start()
        writer.close()  # the child holds its own end: the pipe ends when the child does
        procs.append(proc)
        readers.append(reader)
    _preload_reports()
    handover = Handover(readers, out_dir)
    if page is not None:
        samples = None if watcher is None else (lambda: watcher.monitor.samples)
        # Until every worker has started there is no combined store: the page says "starting".
        page.follow(lambda: handover.store if handover.started else None, samples, handover.lock)
    try:
        supervisor = Supervisor(procs, handover, scenario.parsed_thresholds(), options.progress)
        supervisor.run()
        store = handover.finish()
    finally:
        handover.close()
    if watcher is not None:
        watcher.end_load()
        if supervisor.status != "interrupted":
            try:
                watcher.cooldown()
            except KeyboardInterrupt:
                supervisor.status = "interrupted"  # the results so far are still merged
    codes = [p.exitcode for p in procs]
    for code, run_dir in zip(codes, dirs, strict=True):
        if code == exitcodes.INVALID_INPUT:
            raise InvalidInput(f"worker {run_dir.name}", [last_error(run_dir)])
        if code == exitcodes.INFRASTRUCTURE:
            raise TargetUnreachable(f"worker {run_dir.name}: {last_error(run_dir)}")
    ran = [i for i, d in enumerate(dirs) if (d / "run.json").is_file() and has_results(d)]
    if not ran:
        raise RunBroken(
            "workers", f"none wrote results (exit codes {codes}); see {out_dir}/workers"
        )
    status = supervisor.status
    if status is None and any(c not in (0, 1, exitcodes.INTERRUPTED) for c in codes):
        print(f"callbench: a worker died (exit codes {codes})", file=sys.stderr)
        status = "interrupted"
    combined = Combined(store, handover.ends(ran))
    return merge_run_dirs(
        [dirs[i] for i in ran],
        out_dir,
        scenario=scenario,
        status=status,
        extra_meta=extra,
        monitor=None if watcher is None else watcher.evidence,
        runbooks=options.runbooks,
        combined=combined,
    )
