"""`callbench drills`, `callbench drill NAME [--fix]` and `callbench rehearse [--quick]`: the
failure drills of bench/drills/*.yaml, one at a time or all with their fixes.

Each run brings up its own stack in a private state dir under its run dir (never the user's
`.callbench`), so a drill can run beside `callbench up`. `--raw-events [FILE]` also writes every
observation of the drill's calls into RUN_DIR/FILE, as on the load commands (with `rehearse`,
into each run's directory). Exit codes: 0 every expectation met,
1 an observed zone or set of findings differs from the expectation, 2 bad drill name or file,
3 the stack did not start, 130 interrupted (the stack is torn down first).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import exitcodes
from bench.commands.run_options import add_raw_events_argument, raw_events_from_args
from bench.drilling.model import Drill, find_drill, load_all
from bench.drilling.rehearsal import ChildRuns, Step, plan, rehearse_lanes
from bench.drilling.runner import DrillResult, run_drill
from bench.drilling.table import list_drills, render_result, render_table
from bench.errors import UsageError
from bench.monitoring import runbooks_dir
from bench.stack.runtime import RuntimeName
from generator.runner import progress_stream


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "drills", help="list the failure drills and what each teaches", description=__doc__
    )
    p.set_defaults(handler=handle_list)

    p = subparsers.add_parser(
        "drill", help="run one failure drill (or its fix)", description=__doc__
    )
    p.add_argument("name", help="drill name (see `callbench drills`)")
    p.add_argument("--fix", action="store_true", help="run the drill with its fix applied")
    p.add_argument("--quick", action="store_true", help="the drill's smaller CI load")
    p.add_argument("--runtime", choices=("local", "compose"), default="local")
    p.add_argument("--out", type=Path, help="run directory (default runs/drill-NAME-<time>)")
    p.add_argument("--json", action="store_true", help="expected vs observed as JSON on stdout")
    add_raw_events_argument(p)
    p.set_defaults(handler=handle_drill)

    p = subparsers.add_parser(
        "rehearse", help="run every drill and its fix, print a verdict table", description=__doc__
    )
    p.add_argument("--quick", action="store_true", help="smaller loads, fit for CI")
    p.add_argument("--only", nargs="+", metavar="NAME", help="rehearse only these drills")
    p.add_argument(
        "--repeat",
        type=_count,
        default=1,
        metavar="N",
        help="run each drill N times in a row (its fix once): every run must match",
    )
    p.add_argument(
        "--jobs",
        type=_count,
        default=1,
        metavar="N",
        help="up to N drills at once, each in its own process and stack (solo drills alone)",
    )
    p.add_argument("--runtime", choices=("local", "compose"), default="local")
    p.add_argument("--out", type=Path, help="directory (default runs/rehearse-<time>)")
    p.add_argument("--json", action="store_true", help="the results as JSON on stdout")
    add_raw_events_argument(p)
    p.set_defaults(handler=handle_rehearse)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 16")
    return value


def _stamp() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _echo(message: str) -> None:
    print(f"callbench: {message}", file=sys.stderr)


def _write_comparison(name: str, broken: DrillResult, fixed: DrillResult, out: Path) -> None:
    try:
        from generator.report.html import render_comparison_html

        page = render_comparison_html(
            broken.run_dir,
            fixed.run_dir,
            f"drill {name}: before and after the fix",
            out,
            runbooks=runbooks_dir(),
        )
        (out / "comparison.html").write_text(page, encoding="utf-8")
    except Exception as exc:  # as above: the table is the verdict
        _echo(f"comparison.html not written: {exc}")


def handle_list(args: argparse.Namespace) -> int:
    print(list_drills(load_all()))
    return exitcodes.PASSED


def _run(
    drill: Drill,
    out: Path,
    *,
    fix: bool,
    quick: bool,
    runtime: RuntimeName = "local",
    raw_events: Path | None = None,
) -> DrillResult:
    which = "its fix" if fix else "the drill"
    _echo(f"{drill.name}: running {which} on the {runtime} runtime into {out}")
    # The generator's Runner writes report.html into the run dir itself.
    return run_drill(
        drill,
        out,
        fix=fix,
        quick=quick,
        progress=progress_stream(),
        echo=_echo,
        runtime=runtime,
        raw_events=raw_events,
    )


def handle_drill(args: argparse.Namespace) -> int:
    drill = find_drill(args.name)
    raw_events = raw_events_from_args(args)  # a bad FILE is refused before any stack starts
    suffix = "-fix" if args.fix else ""
    out = args.out or Path("runs") / f"drill-{drill.name}{suffix}-{_stamp()}"
    result = _run(
        drill, out, fix=args.fix, quick=args.quick, runtime=args.runtime, raw_events=raw_events
    )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(render_result(drill, result))
    if result.interrupted:
        return exitcodes.INTERRUPTED
    return exitcodes.PASSED if result.matched else exitcodes.FAILED


def rehearse(
    drills: list[Drill],
    out: Path,
    *,
    quick: bool,
    run: Callable[..., DrillResult] = _run,
    runtime: RuntimeName = "local",
    repeat: int = 1,
    jobs: int = 1,
    raw_events: Path | None = None,
) -> tuple[list[DrillResult], bool]:
    """Every drill ``repeat`` times, then its fix (bench/drilling/rehearsal.py); up to ``jobs``
    drills at once in child processes. Stops early (second value True) when interrupted.
    ``raw_events``: every run also writes its observations to that file of its run dir."""
    lock = threading.Lock()

    def report(step: Step, result: DrillResult) -> None:
        with lock:
            print(render_result(step.drill, result), file=sys.stderr, flush=True)

    lanes = plan(drills, out, repeat)
    children = ChildRuns(quick=quick, runtime=runtime, raw_events=raw_events)
    if raw_events is not None:
        run = functools.partial(run, raw_events=raw_events)
    if jobs > 1:
        _echo(f"rehearsing {len(drills)} drills, up to {jobs} at once (logs: RUN_DIR/drill.log)")
        step_runner: Callable[[Step], DrillResult] = children
    else:

        def step_runner(step: Step) -> DrillResult:
            return run(step.drill, step.out, fix=step.fix, quick=quick, runtime=runtime)

    results, interrupted = rehearse_lanes(
        lanes, step_runner, report, jobs=jobs, on_interrupt=children.interrupt
    )
    for drill in drills:  # the first run of each drill against its fix
        mine = [r for r in results if r.drill == drill.name]
        broken = next((r for r in mine if not r.fix), None)
        fixed = next((r for r in mine if r.fix), None)
        if broken is not None and fixed is not None:
            _write_comparison(drill.name, broken, fixed, out / drill.name)
    return results, interrupted


def handle_rehearse(args: argparse.Namespace) -> int:
    drills = load_all()
    if args.only:
        known = {d.name for d in drills}
        unknown = [n for n in args.only if n not in known]
        if unknown:
            raise UsageError(f"unknown drills {unknown}; known: {', '.join(sorted(known))}")
        drills = [d for d in drills if d.name in args.only]
    raw_events = raw_events_from_args(args)
    out = args.out or Path("runs") / f"rehearse-{_stamp()}"
    results, interrupted = rehearse(
        drills,
        out,
        quick=args.quick,
        runtime=args.runtime,
        repeat=args.repeat,
        jobs=args.jobs,
        raw_events=raw_events,
    )
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "quick": args.quick,
        "repeat": args.repeat,
        "jobs": args.jobs,
        "results": [r.to_json() for r in results],
    }
    (out / "rehearse.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(render_table(results))
        print(f"results in {out}", file=sys.stderr)
    if interrupted:
        return exitcodes.INTERRUPTED
    return exitcodes.PASSED if all(r.matched for r in results) else exitcodes.FAILED
