"""Rehearsing many drills: each drill run ``repeat`` times in a row, then its fix, all of one
drill's runs in one lane, in that order. With ``jobs == 1`` the lanes run one after another in
this process. With ``jobs > 1`` up to that many lanes run at once, each run a ``callbench drill``
child process (its own stack on its own ports, its own event loop and signal handling, its output
in RUN_DIR/drill.log); drills marked ``solo`` run afterwards, alone. A drill's run mostly waits
on its paced calls, so two lanes share two cores without skewing each other's figures.

Results come back in plan order whatever order the lanes finish in. Ctrl-C (or any interrupt)
stops every lane: the running children get SIGINT, tear their stacks down and report
`interrupted`; no lane starts another run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import exitcodes
from bench.drilling.model import Drill
from bench.drilling.runner import DrillResult


@dataclass(frozen=True)
class Step:
    """One run of a rehearsal: a drill (``attempt`` of ``repeat``) or its fix."""

    drill: Drill
    fix: bool
    attempt: int
    out: Path


RunStep = Callable[[Step], DrillResult]
Report = Callable[[Step, DrillResult], None]


def plan(drills: Sequence[Drill], out: Path, repeat: int = 1) -> list[list[Step]]:
    """One lane per drill: its runs (``drill``, or ``drill-1``... when repeated), then ``fix``."""
    lanes = []
    for drill in drills:
        base = out / drill.name
        runs = [
            Step(drill, False, i, base / ("drill" if repeat == 1 else f"drill-{i}"))
            for i in range(1, repeat + 1)
        ]
        lanes.append([*runs, Step(drill, True, 1, base / "fix")])
    return lanes


def _run_lane(
    lane: Sequence[Step], run: RunStep, report: Report, stop: threading.Event
) -> list[DrillResult]:
    results = []
    for step in lane:
        if stop.is_set():
            break
        result = dataclasses.replace(run(step), attempt=step.attempt)
        results.append(result)
        report(step, result)
        if result.interrupted:
            stop.set()
    return results


def rehearse_lanes(
    lanes: Sequence[Sequence[Step]],
    run: RunStep,
    report: Report,
    *,
    jobs: int = 1,
    on_interrupt: Callable[[], None] = lambda: None,
) -> tuple[list[DrillResult], bool]:
    """Every lane's results in plan order, and whether the rehearsal was interrupted."""
    stop = threading.Event()
    by_lane: dict[int, list[DrillResult]] = {}
    shared = [i for i, lane in enumerate(lanes) if jobs > 1 and not lane[0].drill.solo]
    alone = [i for i in range(len(lanes)) if i not in shared]
    if shared:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="drill-lane") as pool:
            futures: dict[int, Future[list[DrillResult]]] = {
                i: pool.submit(_run_lane, lanes[i], run, report, stop) for i in shared
            }
            try:
                for i, future in futures.items():
                    by_lane[i] = future.result()
            except KeyboardInterrupt:
                stop.set()
                on_interrupt()  # the children stop; their lanes then return
                for i, future in futures.items():
                    by_lane[i] = future.result()
    for i in alone:
        if stop.is_set():
            break
        by_lane[i] = _run_lane(lanes[i], run, report, stop)
    results = [r for i in range(len(lanes)) for r in by_lane.get(i, [])]
    return results, stop.is_set() or any(r.interrupted for r in results)


class ChildRuns:
    """Runs a step as ``python -m bench.cli drill NAME ... --out RUN_DIR`` and reads its result
    back from RUN_DIR. Children get their own session, so a terminal's Ctrl-C reaches the parent
    only, which forwards it once to every live child (``interrupt``)."""

    def __init__(self, *, quick: bool, runtime: str, raw_events: Path | None = None) -> None:
        self.quick = quick
        self.runtime = runtime
        self.raw_events = raw_events  # each child's --raw-events FILE (None: not asked for)
        self._live: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def argv(self, step: Step) -> list[str]:
        argv = [sys.executable, "-m", "bench.cli", "drill", step.drill.name]
        argv += ["--out", str(step.out), "--runtime", self.runtime]
        argv += ["--quick"] if self.quick else []
        argv += ["--fix"] if step.fix else []
        argv += [] if self.raw_events is None else ["--raw-events", str(self.raw_events)]
        return argv

    def __call__(self, step: Step) -> DrillResult:
        step.out.mkdir(parents=True, exist_ok=True)
        log = step.out / "drill.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                self.argv(step), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
            with self._lock:
                self._live.add(proc)
            try:
                code = proc.wait()
            finally:
                with self._lock:
                    self._live.discard(proc)
        if not (step.out / "drill.json").is_file():
            return DrillResult(
                drill=step.drill.name,
                fix=step.fix,
                expected=step.drill.expectation(step.fix),
                zone=None,
                findings=(),
                run_dir=step.out,
                exit_code=code,
                problems=(f"`callbench drill` exited {code} without a result; see {log}",),
            )
        result = DrillResult.load(step.drill, step.fix, step.out)
        if code == exitcodes.INTERRUPTED:
            result = dataclasses.replace(result, exit_code=code)
        return result

    def interrupt(self) -> None:
        with self._lock:
            live = list(self._live)
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
