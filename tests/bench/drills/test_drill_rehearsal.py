"""The rehearsal's plan and lanes without a stack: repeats in a row then the fix, results in plan
order whatever order lanes finish in, solo drills alone, an interrupt stopping every lane, the
child-process command line, and the table's consistency line."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest

from bench import exitcodes
from bench.cli import main
from bench.drilling.model import Drill, find_drill
from bench.drilling.rehearsal import ChildRuns, Step, plan, rehearse_lanes
from bench.drilling.runner import DrillResult
from bench.drilling.table import render_table

pytestmark = pytest.mark.timeout(60)


def result(step: Step, *, zone: str | None = None, code: int = 0) -> DrillResult:
    expected = step.drill.expectation(step.fix)
    return DrillResult(
        drill=step.drill.name,
        fix=step.fix,
        expected=expected,
        zone=zone or expected.zone,
        findings=expected.findings,
        notes=expected.notes,
        run_dir=step.out,
        exit_code=code,
    )


def drills(*names: str) -> list[Drill]:
    return [find_drill(n) for n in names]


def test_plan_repeats_each_drill_in_a_row_then_its_fix(tmp_path: Path) -> None:
    lanes = plan(drills("baseline", "pool-exhaustion"), tmp_path, repeat=3)
    assert [[(s.fix, s.attempt) for s in lane] for lane in lanes] == [
        [(False, 1), (False, 2), (False, 3), (True, 1)]
    ] * 2
    assert lanes[1][1].out == tmp_path / "pool-exhaustion" / "drill-2"
    assert lanes[1][3].out == tmp_path / "pool-exhaustion" / "fix"
    assert plan(drills("baseline"), tmp_path)[0][0].out == tmp_path / "baseline" / "drill"


def test_lanes_overlap_solo_drills_run_alone_and_results_keep_plan_order(
    tmp_path: Path,
) -> None:
    names = ("baseline", "cpu-bottleneck", "pool-exhaustion", "memory-leak")
    lanes = plan(drills(*names), tmp_path, repeat=2)
    lock = threading.Lock()
    running: set[str] = set()
    overlaps: list[set[str]] = []
    solo_company: list[set[str]] = []

    def run(step: Step) -> DrillResult:
        with lock:
            running.add(step.drill.name)
            overlaps.append(set(running))
            if step.drill.solo:
                solo_company.append(set(running) - {step.drill.name})
        time.sleep(0.02 if step.drill.name != "baseline" else 0.05)  # simulated run time
        with lock:
            running.discard(step.drill.name)
        return result(step)

    seen: list[Step] = []
    results, interrupted = rehearse_lanes(lanes, run, lambda s, r: seen.append(s), jobs=2)
    assert not interrupted
    assert len(results) == len(seen) == 12
    assert [(r.drill, r.fix, r.attempt) for r in results] == [
        (s.drill.name, s.fix, s.attempt) for lane in lanes for s in lane
    ]
    assert any(len(group) == 2 for group in overlaps)  # two lanes did run at once
    assert solo_company
    assert all(company == set() for company in solo_company)
    assert find_drill("cpu-bottleneck").solo


def test_an_interrupted_run_stops_every_lane(tmp_path: Path) -> None:
    lanes = plan(drills("baseline", "pool-exhaustion", "memory-leak"), tmp_path, repeat=3)

    def run(step: Step) -> DrillResult:
        if step.drill.name == "baseline" and step.attempt == 2:
            return result(step, code=exitcodes.INTERRUPTED)
        time.sleep(0.01)
        return result(step)

    results, interrupted = rehearse_lanes(lanes, run, lambda s, r: None, jobs=2)
    assert interrupted
    assert len(results) < 12  # nothing was started after the interrupt was seen
    assert not any(r.drill == "memory-leak" and r.attempt == 3 for r in results)


def test_children_run_the_drill_command_and_a_missing_result_is_a_problem(
    tmp_path: Path,
) -> None:
    step = plan(drills("pool-exhaustion"), tmp_path, repeat=2)[0][2]  # the fix
    runs = ChildRuns(quick=True, runtime="compose")
    argv = runs.argv(step)
    assert argv[1:5] == ["-m", "bench.cli", "drill", "pool-exhaustion"]
    assert argv[argv.index("--runtime") : argv.index("--runtime") + 2] == ["--runtime", "compose"]
    assert "--quick" in argv
    assert "--fix" in argv
    assert str(step.out) in argv
    # A child that ends without a drill.json (here: an unknown runtime, refused by argparse).
    bad = ChildRuns(quick=True, runtime="nowhere")
    failed = bad(step)
    assert failed.exit_code == exitcodes.INVALID_INPUT
    assert not failed.matched
    assert "without a result" in failed.problems[0]
    assert (step.out / "drill.log").read_text()  # argparse's message is kept


def test_the_table_says_whether_repeated_runs_agreed(tmp_path: Path) -> None:
    steps = plan(drills("baseline"), tmp_path, repeat=3)[0]
    same = [result(s) for s in steps]
    same = [dataclasses.replace(r, attempt=s.attempt) for r, s in zip(same, steps, strict=True)]
    table = render_table(same)
    assert "baseline (run 3)" in table
    assert "each drill run 3 times in a row concluded the same every time" in table
    differ = [*same[:1], result(steps[1], zone="red"), *same[2:]]
    assert "2 different conclusions" in render_table(differ)


def test_repeat_and_jobs_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rehearse", "--repeat", "0"])
    assert exited.value.code == exitcodes.INVALID_INPUT
    assert "from 1 to 16" in capsys.readouterr().err
