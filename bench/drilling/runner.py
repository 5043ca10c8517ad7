"""Running one drill (or its fix) end to end: the stack up with the drill's overrides in a private
state dir under the run dir (so it never meets a user's `callbench up`) - local processes, or the
compose stack's containers with ``runtime="compose"`` - run-time faults applied,
the load run through the generator's Runner with the monitor pointed at the stack, timed actions
(kill, restart) fired during the load, and the stack torn down whatever happens.

RUN_DIR holds the generator's files (summary.json, the metrics.jsonl + metrics.hlog snapshots,
monitor.jsonl, ...; with ``raw_events`` also every observation, as `--raw-events` writes them),
the stack's logs under ``stack/logs/``, and ``drill.json``: expected against observed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bench import exitcodes
from bench.drilling import actions, diagnosis
from bench.drilling.model import Drill, Expectation, TimedAction, runbooks_dir
from bench.stack.runtime import Runtime, RuntimeName, make_runtime
from bench.stack.state import StackState
from generator.options import RunOptions
from generator.report.summary_model import Summary, read_summary
from generator.runner import Runner
from generator.workloads.registry import build_workloads


@dataclass(frozen=True)
class DrillResult:
    """What one drill run concluded, against what it should have."""

    drill: str
    fix: bool
    expected: Expectation
    zone: str | None
    findings: tuple[str, ...]
    run_dir: Path
    exit_code: int  # the generator's (130 when interrupted)
    summary: Summary | None = field(default=None, compare=False, repr=False)
    problems: tuple[str, ...] = ()  # actions that failed, missing verdict, ...
    notes: tuple[str, ...] = ()  # rules that fired at `info` severity
    attempt: int = 1  # which of a rehearsal's repeated runs of the drill

    @property
    def interrupted(self) -> bool:
        return self.exit_code == exitcodes.INTERRUPTED

    @property
    def matched(self) -> bool:
        return (
            not self.problems
            and self.zone == self.expected.zone
            and set(self.findings) == set(self.expected.findings)
            and set(self.notes) == set(self.expected.notes)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "drill": self.drill,
            "fix": self.fix,
            "expected": {
                "zone": self.expected.zone,
                "findings": list(self.expected.findings),
                "notes": list(self.expected.notes),
            },
            "observed": {
                "zone": self.zone,
                "findings": list(self.findings),
                "notes": list(self.notes),
            },
            "matched": self.matched,
            "problems": list(self.problems),
            "run_dir": str(self.run_dir),
            "exit_code": self.exit_code,
            "attempt": self.attempt,
        }

    @classmethod
    def load(cls, drill: Drill, fix: bool, run_dir: Path) -> DrillResult:
        """The result a run left in ``run_dir`` (drill.json, summary.json): how a rehearsal
        reads back the runs it made in child processes."""
        data = json.loads((run_dir / "drill.json").read_text(encoding="utf-8"))
        summary_path = run_dir / "summary.json"
        summary = read_summary(summary_path) if summary_path.is_file() else None
        observed = data.get("observed") or {}
        return cls(
            drill=drill.name,
            fix=fix,
            expected=drill.expectation(fix),
            zone=observed.get("zone"),
            findings=tuple(observed.get("findings") or ()),
            notes=tuple(observed.get("notes") or ()),
            run_dir=run_dir,
            exit_code=int(data.get("exit_code", 0)),
            summary=summary,
            problems=tuple(data.get("problems") or ()),
        )


def stack_urls(state: StackState) -> dict[str, str]:
    """``{"backend.ws": ..., "realtime.admin": ...}`` for the load's placeholders."""
    urls: dict[str, str] = {}
    for part in (state.backend, state.realtime):
        if part is not None:
            urls.update({f"{part.name}.{key}": url for key, url in part.urls.items()})
    return urls


async def _fire(stack: Runtime, timed: TimedAction, problems: list[str]) -> None:
    await asyncio.sleep(timed.at_s)
    try:
        if timed.action == "kill_backend":
            what = await asyncio.to_thread(actions.kill_backend, stack)
            print(f"callbench: killed the backend ({what}, SIGKILL)", file=sys.stderr)
        else:
            await asyncio.to_thread(actions.restart_backend, stack)
    except Exception as exc:  # the run goes on; the result says the drill did not do its part
        problems.append(f"{timed.action} at {timed.at_s:g}s failed: {exc}")


async def _run_load(
    stack: Runtime,
    drill: Drill,
    out_dir: Path,
    *,
    fix: bool,
    quick: bool,
    progress: TextIO | None,
    raw_events: Path | None = None,
) -> tuple[Summary, int, list[str]]:
    state = stack.state
    assert state is not None
    scenario = drill.scenario(stack_urls(state), quick=quick, fix=fix)
    workloads = build_workloads(scenario)
    monitor = diagnosis.monitor_config(state, cooldown_s=drill.cooldown_s)
    options = RunOptions(
        out_dir, monitor=monitor, progress=progress, runbooks=runbooks_dir(), raw_events=raw_events
    )
    runner = Runner(scenario, options, workloads)
    problems: list[str] = []
    planned = drill.actions_for(fix)
    timed = [asyncio.create_task(_fire(stack, t, problems)) for t in planned]
    try:
        outcome = await runner.run()
    finally:
        for task, action in zip(timed, planned, strict=True):
            if not task.done():
                problems.append(f"{action.action} did not fire before the load ended")
                task.cancel()
        await asyncio.gather(*timed, return_exceptions=True)
    return outcome.summary, outcome.exit_code, problems


def _apply_runtime(state: StackState, drill: Drill, fix: bool) -> None:
    runtime = drill.runtime_for(fix)
    if runtime.realtime_faults is not None:
        actions.set_realtime_faults(state, runtime.realtime_faults)
    if runtime.backend_config is not None:
        actions.set_backend_config(state, runtime.backend_config)


def run_drill(
    drill: Drill,
    out_dir: Path,
    *,
    fix: bool = False,
    quick: bool = False,
    progress: TextIO | None = None,
    echo: Any = None,
    runtime: RuntimeName = "local",
    raw_events: Path | None = None,
) -> DrillResult:
    """Run the drill (or its fix) into ``out_dir``; the stack is always torn down. ``raw_events``:
    also write every observation to that file of ``out_dir`` (RunOptions.raw_events).

    Raises StackError when the stack does not start; KeyboardInterrupt passes through after the
    teardown (a Ctrl-C during the load itself ends the run as `interrupted`, exit code 130)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # Containers may be built on first use: compose's own wait, not the processes' 30 s.
    timeout = 300.0 if runtime == "compose" else 30.0
    stack = make_runtime(
        runtime, out_dir / "stack", drill.overrides(fix), timeout=timeout, echo=echo
    )
    with stack:
        assert stack.state is not None
        _apply_runtime(stack.state, drill, fix)
        summary, code, problems = asyncio.run(
            _run_load(
                stack,
                drill,
                out_dir,
                fix=fix,
                quick=quick,
                progress=progress,
                raw_events=raw_events,
            )
        )
    zone, findings, notes = diagnosis.observed(summary)
    if zone is None:
        problems.append("the run's summary has no zone (is generator/diagnosis installed?)")
    result = DrillResult(
        drill=drill.name,
        fix=fix,
        expected=drill.expectation(fix),
        zone=zone,
        findings=findings,
        notes=notes,
        run_dir=out_dir,
        exit_code=code,
        summary=summary,
        problems=tuple(problems),
    )
    (out_dir / "drill.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return result
