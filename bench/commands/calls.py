"""`callbench calls`: concurrent voice calls against a WebSocket target (the seed script's
interface), under a load model chosen by the flags:

    --calls N                 N calls at once, each once (shared-iterations, N on N VUs)
    --duration S [--calls N]  N VUs calling back to back for S seconds (constant-vus)
    --rate R --duration S     R new calls per second for S seconds (constant-arrival-rate);
                              --calls N caps the calls in flight (default 100), beyond which
                              calls are dropped and counted, never delayed
    --quick | --preset NAME   a named level (generator/load/presets.py)
    --plan A,B,...            presets in order, stopping at the first that fails
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bench.commands.monitor_flags import add_monitor_arguments
from bench.commands.run_options import (
    add_distribution_arguments,
    hold_until_start,
    run_distributed,
    run_options,
)
from bench.commands.traffic_common import add_ws_arguments, ws_options_from_flags
from bench.errors import UsageError
from generator.launch import run_plan
from generator.load.constant_arrival_rate import ConstantArrivalRate
from generator.load.constant_vus import ConstantVUs
from generator.load.durations import parse_duration
from generator.load.presets import PRESET_NAMES, Step, plan, preset
from generator.load.shared_iterations import SharedIterations
from generator.metrics.thresholds import DEFAULT_CALL_THRESHOLDS
from generator.runner import default_out_dir
from generator.scenario import scenario_from_dict
from generator.workloads.registry import build_workloads, check_ws_url
from generator.workloads.twilio_sign import TWILIO_TOKEN_ENV

DEFAULT_RATE_CAP = 100


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("calls", help="concurrent voice calls", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--url", required=True, help="ws:// or wss:// URL of the call endpoint")
    p.add_argument("--protocol", choices=("native", "twilio", "realtime"), default="native")
    p.add_argument("--calls", type=int, help="calls at once (default 1)")
    p.add_argument("--duration", help="keep calling for this long (e.g. 30s, 2m)")
    p.add_argument("--rate", type=float, help="new calls per second (needs --duration)")
    p.add_argument("--quick", action="store_true", help="one call (the quick preset)")
    p.add_argument("--preset", choices=PRESET_NAMES, help="a named load level")
    p.add_argument("--plan", help="comma-separated presets, run in order until one fails")
    p.add_argument("--turns", type=int, default=2, help="caller turns per call")
    p.add_argument("--audio", help="WAV file the caller speaks (default: synthetic speech)")
    p.add_argument(
        "--greeting",
        choices=("wait", "none", "auto"),
        default="auto",
        help="wait for a greeting (none: fail), none: speak at once, "
        "auto: hear a greeting out if one starts within the greeting timeout (default)",
    )
    p.add_argument(
        "--quiet-gap",
        type=int,
        metavar="MS",
        help="twilio: an assistant turn is over after this much quiet line (default 700)",
    )
    p.add_argument(
        "--barge-in",
        type=float,
        metavar="P",
        help="probability per turn that the caller talks over the answer, 500 ms into it",
    )
    p.add_argument(
        "--barge-in-after",
        type=int,
        metavar="MS",
        help="with --barge-in: start talking this long into the answer (default 500)",
    )
    p.add_argument(
        "--barge-in-bound",
        type=int,
        metavar="MS",
        help="with --barge-in: an assistant still talking this long after the caller began "
        "counts as barge_in_ignored (default 2000)",
    )
    p.add_argument(
        "--line-noise",
        action="store_true",
        help="twilio: the line's silence is seeded low-level noise, not digital silence",
    )
    p.add_argument(
        "--realtime-vad",
        action="store_true",
        help="realtime: the upstream's server VAD ends the caller's turns (and a barge-in)",
    )
    p.add_argument(
        "--sign",
        action="store_true",
        help=f"twilio: sign the handshake as Twilio does (X-Twilio-Signature over the URL, "
        f"keyed with ${TWILIO_TOKEN_ENV})",
    )
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="EXPR",
        help=f"pass/fail criterion, k6 grammar (default {DEFAULT_CALL_THRESHOLDS[0]})",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="run directory (default runs/<timestamp>)")
    p.add_argument("--json", action="store_true", help="machine-readable summary on stdout")
    add_distribution_arguments(p)
    add_monitor_arguments(p)
    add_ws_arguments(p)
    p.set_defaults(handler=handle)


def load_steps(args: argparse.Namespace) -> list[Step]:
    """The load model(s) the flags ask for; every conflicting or bad flag reported at once."""
    named = [f for f, v in (("--quick", args.quick), ("--preset", args.preset),
                             ("--plan", args.plan)) if v]  # fmt: skip
    shaped = [f for f, v in (("--calls", args.calls), ("--duration", args.duration),
                             ("--rate", args.rate)) if v is not None]  # fmt: skip
    problems = []
    if len(named) > 1 or (named and shaped):
        problems.append(f"{' and '.join(named + shaped)} cannot be combined")
    if args.calls is not None and args.calls < 1:
        problems.append("--calls must be at least 1")
    if args.rate is not None and (args.rate <= 0 or args.duration is None):
        problems.append("--rate needs a positive value and --duration")
    duration = None
    if args.duration is not None:
        try:
            duration = parse_duration(args.duration)
            if duration <= 0:
                problems.append("--duration must be positive")
        except ValueError as exc:
            problems.append(f"--duration: {exc}")
    if args.turns < 1:
        problems.append("--turns must be at least 1")
    if problems:
        raise UsageError("; ".join(problems))
    if args.plan:
        return plan(args.plan)
    if args.quick or args.preset:
        return preset("quick" if args.quick else args.preset)
    calls = args.calls or 1
    if args.rate is not None and duration is not None:
        cap = args.calls or DEFAULT_RATE_CAP
        model = ConstantArrivalRate(
            rate=args.rate, duration=duration, preAllocatedVUs=min(cap, 10), maxVUs=cap
        )
        return [("rate", model)]
    if duration is not None:
        return [("duration", ConstantVUs(vus=calls, duration=duration))]
    return [("calls", SharedIterations(vus=calls, iterations=calls))]


def caller_options(args: argparse.Namespace) -> dict[str, Any]:
    """The caller's behaviour flags as config entries; a flag its protocol has no use for, or
    a barge-in detail without --barge-in, is a UsageError (all of them reported at once)."""
    problems: list[str] = []
    config: dict[str, Any] = {}
    barge_in: dict[str, Any] = {}
    if args.barge_in is not None:
        barge_in["probability"] = args.barge_in
    for flag, key in (("barge_in_after", "after_ms"), ("barge_in_bound", "bound_ms")):
        if getattr(args, flag) is not None:
            if args.barge_in is None:
                problems.append(f"--{flag.replace('_', '-')} needs --barge-in P")
            barge_in[key] = getattr(args, flag)
    if barge_in:
        config["barge_in"] = barge_in
    for flag, protocol in (("line_noise", "twilio"), ("realtime_vad", "realtime")):
        if getattr(args, flag):
            if args.protocol != protocol:
                problems.append(f"--{flag.replace('_', '-')} applies to --protocol {protocol}")
            config[flag] = True
    if problems:
        raise UsageError("; ".join(problems))
    return config


def handle(args: argparse.Namespace) -> int:
    check_ws_url(args.url)
    steps = load_steps(args)
    config: dict[str, Any] = {"url": args.url, "protocol": args.protocol, "turns": args.turns}
    if args.audio:
        config["audio_file"] = args.audio
    config["greeting"] = args.greeting
    if args.quiet_gap is not None:
        config["quiet_gap_ms"] = args.quiet_gap
    config.update(caller_options(args))
    if args.sign:
        if args.protocol != "twilio":
            raise UsageError("--sign applies to --protocol twilio (Twilio signs its streams)")
        if not os.environ.get(TWILIO_TOKEN_ENV):
            raise UsageError(f"--sign needs ${TWILIO_TOKEN_ENV}, the account's auth token")
        config["signed"] = True
    config.update(ws_options_from_flags(args))  # header templates only, expanded per process
    base = {
        "name": "calls",
        "seed": args.seed,
        "workloads": {"calls": {"type": "calls", "config": config, "load": {}}},
        "thresholds": list(args.threshold) or list(DEFAULT_CALL_THRESHOLDS),
    }
    out = args.out or default_out_dir()
    base["workloads"]["calls"]["load"] = steps[0][1].model_dump(mode="json")
    scenario = scenario_from_dict(base)  # validates flags and thresholds before any traffic
    build_workloads(scenario)
    if len(steps) > 1 or args.plan:
        hold_until_start(args)  # a plan takes no Distribution: its first step starts at --start-at
        return run_plan(base, steps, run_options(args, out), args.json)
    return run_distributed(args, scenario, out)
