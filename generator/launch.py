"""What the `calls` and `run` commands share: run one Scenario (or a plan of them) with the
options the CLI layer built, print the summary (terminal block, or JSON with --json) and return
the exit code."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from generator import exitcodes
from generator.load.presets import BREAKPOINT_LEVELS, Step
from generator.options import RunOptions
from generator.report.terminal import render_terminal
from generator.runner import Runner, RunOutcome
from generator.scenario import Scenario, scenario_from_dict


def run_once(scenario: Scenario, options: RunOptions) -> RunOutcome:
    return asyncio.run(Runner(scenario, options).run())


def print_outcome(outcome: RunOutcome, as_json: bool) -> None:
    if as_json:
        print(outcome.summary.dumps())
    else:
        print(render_terminal(outcome.summary))
        print(f"results in {outcome.out_dir}", file=sys.stderr)


def run_and_print(scenario: Scenario, options: RunOptions, as_json: bool) -> int:
    outcome = run_once(scenario, options)
    print_outcome(outcome, as_json)
    return outcome.exit_code


def run_plan(base: dict[str, Any], steps: list[Step], options: RunOptions, as_json: bool) -> int:
    """Runs each step as its own scenario into OUT/NN-label (OUT: ``options.out_dir``) and stops
    at the first that fails. The last level that passed is the capacity figure (what breakpoint
    is for)."""
    out_dir = options.out_dir
    rows: list[dict[str, Any]] = []
    capacity: int | None = None
    code = exitcodes.PASSED
    for index, (label, load) in enumerate(steps, start=1):
        data = json.loads(json.dumps(base))
        for spec in data["workloads"].values():
            spec["load"] = load.model_dump(mode="json")
        scenario = scenario_from_dict({**data, "name": f"{base['name']}-{label}"})
        outcome = run_once(scenario, options.at(out_dir / f"{index:02d}-{label}"))
        if not as_json:
            print_outcome(outcome, as_json=False)
        rows.append(
            {
                "step": label,
                "level": load.max_vus,
                "passed": outcome.summary.passed,
                "dir": str(outcome.out_dir),
                "summary": outcome.summary.to_json(),
            }
        )
        if outcome.exit_code != exitcodes.PASSED:
            code = outcome.exit_code
            break
        capacity = load.max_vus
    breakpoint_plan = all(label.startswith("breakpoint-") for label, _ in steps)
    if breakpoint_plan and code == exitcodes.FAILED and capacity is not None:
        code = exitcodes.PASSED  # finding the breaking point is the breakpoint plan's success
    plan = {"steps": rows, "capacity": capacity, "passed": code == exitcodes.PASSED}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "plan.json").write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    if as_json:
        print(json.dumps(plan, indent=2))
    else:
        for row in rows:
            print(
                f"  {row['step']:<20} level {row['level']:>4}  "
                + ("PASS" if row["passed"] else "FAIL")
            )
        if breakpoint_plan:
            top = BREAKPOINT_LEVELS[-1]
            print(
                f"capacity: {capacity if capacity is not None else 'below the first level'}"
                + (f" (no failure up to {top})" if capacity == top else "")
            )
    return code
