"""What `callbench http`, `webhooks` and `connections` share: the common flags, short threshold
forms resolved against each command's own metrics, and running one workload under one load model
through the generator's Runner (the same run directory and summary as `callbench calls`).

The scenario written to run.json holds only what the flags said in the clear: secrets (API token,
Twilio auth token) reach the workload object directly and never the scenario.

Every WebSocket command (calls, connections) also takes `--header`, `--ca-file` and `--insecure`
(`add_ws_arguments`); the headers stay templates (`${VAR}`) in the scenario and in the flags a
`--workers` child receives, and are expanded where the workload is built.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.commands.monitor_flags import add_monitor_arguments
from bench.commands.run_options import add_distribution_arguments, run_distributed
from bench.errors import UsageError
from generator.distributed.shards import run_here
from generator.load.config import LoadConfig, problems_of
from generator.load.durations import parse_duration
from generator.metrics.thresholds import parse_threshold
from generator.protocols.transport import parse_header
from generator.runner import default_out_dir
from generator.scenario import Scenario
from generator.workloads.base import Workload


def add_common_arguments(parser: argparse.ArgumentParser, default_help: str) -> None:
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="EXPR",
        help=f"pass/fail criterion, k6 grammar (default: {default_help})",
    )
    parser.add_argument(
        "--preset-thresholds", action="store_true", help="apply the seed's criteria (see above)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="run directory (default runs/<timestamp>)")
    parser.add_argument("--json", action="store_true", help="machine-readable summary on stdout")
    add_distribution_arguments(parser)
    add_monitor_arguments(parser)


def add_ws_arguments(parser: argparse.ArgumentParser) -> None:
    """`--header`, `--ca-file`, `--insecure`: what a WebSocket command needs to reach a real
    deployment behind auth or a private certificate."""
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="handshake header, repeatable; ${VAR} is read from the environment "
        "(e.g. --header 'Authorization: Bearer ${TOKEN}': the token stays out of the process "
        "list and the run directory)",
    )
    parser.add_argument(
        "--ca-file", metavar="FILE", help="wss://: trust this PEM CA bundle (a private CA)"
    )
    parser.add_argument(
        "--insecure", action="store_true", help="wss://: do not verify the certificate"
    )


def ws_options_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The workload config entries the WebSocket flags ask for (none when none were given, so a
    plain run's scenario stays as it was); bad flags are a UsageError, all reported at once."""
    problems: list[str] = []
    headers: list[list[str]] = []
    for text in getattr(args, "header", None) or ():
        try:
            headers.append(list(parse_header(text)))
        except ValueError as exc:
            problems.append(f"--header: {exc}")
    ca_file = getattr(args, "ca_file", None)
    insecure = bool(getattr(args, "insecure", False))
    if ca_file is not None and insecure:
        problems.append("--ca-file and --insecure cannot be combined: choose one")
    if (ca_file is not None or insecure) and not str(getattr(args, "url", "")).startswith("wss://"):
        problems.append("--ca-file and --insecure apply to wss:// URLs only")
    if problems:
        raise UsageError("; ".join(problems))
    options: dict[str, Any] = {}
    if headers:
        options["headers"] = headers
    if ca_file is not None:
        options["ca_file"] = ca_file
    if insecure:
        options["insecure"] = True
    return options


def thresholds_from_flags(
    given: Sequence[str],
    preset: Sequence[str],
    use_preset: bool,
    defaults: Mapping[str, str],
    fallback: Sequence[str],
) -> list[str]:
    """Full expressions: short forms (`p(95)<500`, `rate<0.05`) read this command's metrics
    (``defaults``: trend/rate/count → metric); no flag at all means ``fallback``."""
    exprs = [*given, *(preset if use_preset else ())]
    if not exprs:
        exprs = list(fallback)
    full, problems = [], []
    for expr in exprs:
        try:
            threshold = parse_threshold(expr, {})
        except Exception as exc:  # InvalidInput with the grammar in its message
            problems.append(str(exc).removeprefix("invalid "))
            continue
        full.append(expr if threshold.metric else f"{defaults[threshold.kind]}:{expr.strip()}")
    if problems:
        raise UsageError("; ".join(problems))
    return full


def positive_duration(text: str, flag: str, problems: list[str]) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        problems.append(f"{flag}: {exc}")
        return 0.0
    if seconds <= 0:
        problems.append(f"{flag} must be positive")
    return seconds


def parse_range(text: str, flag: str, problems: list[str]) -> tuple[float, float]:
    """`30`, `30s` or `30-60` / `30s-2m` → (min, max) seconds."""
    low, _, high = text.partition("-")
    try:
        lo = parse_duration(low)
        hi = parse_duration(high) if high else lo
    except ValueError as exc:
        problems.append(f"{flag}: {exc} (write S or MIN-MAX, e.g. 30-60 or 30s-2m)")
        return 0.0, 0.0
    if lo > hi:
        problems.append(f"{flag}: MIN {lo:g}s is above MAX {hi:g}s")
    return lo, hi


def run_single(
    args: argparse.Namespace,
    *,
    name: str,
    kind: str,
    record: Mapping[str, Any],
    load: LoadConfig,
    thresholds: Sequence[str],
    workload: Workload,
) -> int:
    """Run ``workload`` under ``load``; print the summary; return the exit code."""
    data = {
        "name": name,
        "seed": args.seed,
        "workloads": {
            name: {"type": kind, "config": dict(record), "load": load.model_dump(mode="json")}
        },
        "thresholds": list(thresholds),
    }
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise UsageError("; ".join(problems_of(exc))) from None
    out = args.out or default_out_dir()
    # Worker processes rebuild ``workload`` from the same flags; each runs its slice of ``load``.
    return run_distributed(
        args,
        scenario,
        out,
        lambda part, options: run_here(part, options, args.json, {name: workload}),
    )
