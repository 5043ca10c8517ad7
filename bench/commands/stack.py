"""``callbench up`` / ``status`` / ``down``: start the stack and print its URLs, report each
part's health, stop exactly what ``up`` started. The work lives in bench/stack/; this module only
parses flags and prints."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import exitcodes
from bench.stack.overrides import parse_pairs
from bench.stack.runtime import RUNTIMES, make_runtime, recorded_runtime
from bench.stack.state import StackState

DEFAULT_STATE_DIR = Path(".callbench")


def register(subparsers: Any) -> None:
    up = subparsers.add_parser("up", help="start the stack and print its URLs")
    up.add_argument("--runtime", choices=RUNTIMES, default="local")
    up.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PART.KEY=VALUE",
        help="override a knob, e.g. postgres.max_connections=20, backend.db_pool_max=50, "
        "backend.db_via=pgbouncer, realtime.seed=7 (repeatable)",
    )
    up.add_argument("--timeout", type=float, default=30.0, help="seconds each part may take")
    up.add_argument("--json", action="store_true", help="print stack.json instead of a table")
    _state_dir(up)
    up.set_defaults(handler=run_up)

    status = subparsers.add_parser("status", help="health of each part of the stack")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    _state_dir(status)
    status.set_defaults(handler=run_status)

    down = subparsers.add_parser("down", help="stop what `callbench up` started")
    _state_dir(down)
    down.set_defaults(handler=run_down)


def _state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where stack.json and the logs live (default: .callbench)",
    )


def _progress(line: str) -> None:
    print(f"callbench: {line}", file=sys.stderr, flush=True)


def run_up(args: argparse.Namespace) -> int:
    overrides = parse_pairs(args.overrides)
    # compose's timeout covers image builds too.
    timeout = max(args.timeout, 600.0) if args.runtime == "compose" else args.timeout
    stack = make_runtime(args.runtime, args.state_dir, overrides, timeout=timeout, echo=_progress)
    state = stack.up()
    if args.json:
        print(state.model_dump_json(indent=2))
        return exitcodes.PASSED
    print(f"stack is up (state: {Path(args.state_dir) / 'stack.json'})")
    for part in state.parts():
        shown = {k: v for k, v in part.urls.items() if k != "dsn"}
        where = "  ".join(f"{k}={v}" for k, v in shown.items())
        if part.name in ("postgres", "pgbouncer"):
            where = part.urls.get("dsn", "")
        print(f"  {part.name:<11} pid {part.pid:<8} {where}")
    if state.postgres is not None:
        print(f"  postgres admin DSN: {state.postgres.admin_dsn}")
    return exitcodes.PASSED


def run_status(args: argparse.Namespace) -> int:
    state = StackState.load(args.state_dir)
    if state is None:
        if args.json:
            print(json.dumps({"running": False, "parts": []}))
        else:
            print(f"no stack (no {Path(args.state_dir) / 'stack.json'}); run `callbench up`")
        return exitcodes.INFRASTRUCTURE
    results = recorded_runtime(args.state_dir, echo=_progress).status()
    healthy = all(r.healthy for r in results)
    if args.json:
        print(
            json.dumps({"running": True, "healthy": healthy, "parts": [asdict(r) for r in results]})
        )
    else:
        for r in results:
            mark = "ok  " if r.healthy else "FAIL"
            print(f"{mark} {r.name:<11} pid {r.pid!s:<8} {r.url or ''}  ({r.detail})")
    return exitcodes.PASSED if healthy else exitcodes.INFRASTRUCTURE


def run_down(args: argparse.Namespace) -> int:
    if recorded_runtime(args.state_dir, echo=_progress).down():
        print("stack stopped")
    else:
        print(f"no stack to stop (no {Path(args.state_dir) / 'stack.json'})")
    return exitcodes.PASSED
