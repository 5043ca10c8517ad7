"""The flags `--workers N` and `--shard I/N` that every load command shares, and the one call
(`run_distributed`) that sends a validated scenario down the right path:

    --shard I/N          run slice I of N here, into --out (merge the slices with
                         `callbench merge`; a slice's thresholds say little, the merge decides)
    --workers N          run N slices in N processes here, judged live as one run
    (neither)            one process per core when the load is big enough, else one

Default workers: one per core, but only as many as give each worker at least
MIN_VUS_PER_WORKER VUs — below that one process is not CPU-bound, and each extra process costs
~0.5 s of start-up and its own connection pool — so `--calls 10` stays a single process on any
machine, and on one core everything does.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from bench import exitcodes
from bench.errors import UsageError
from generator.distributed.fastloop import run
from generator.distributed.merge import mark_slice
from generator.distributed.split import parallelism, parse_slice, split_scenario
from generator.distributed.workers import run_workers
from generator.launch import print_outcome
from generator.monitor.cli import ambient_monitor_active
from generator.runner import Runner, progress_stream
from generator.scenario import Scenario
from generator.workloads.base import Workload
from generator.workloads.registry import build_workloads

MIN_VUS_PER_WORKER = 25
RunLocal = Callable[[Scenario, Path], int]


def add_distribution_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        help="processes to run the load in (default: one per core, at most one per "
        f"{MIN_VUS_PER_WORKER} VUs)",
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="run slice I (0-based) of N of the load; merge the run directories with "
        "`callbench merge`",
    )
    parser.add_argument("--worker-slice", help=argparse.SUPPRESS)


def resolve_workers(requested: int | None, scenario: Scenario, cores: int | None = None) -> int:
    cores = cores or os.cpu_count() or 1
    most = parallelism(scenario)
    if requested is None:
        return max(1, min(cores, most // MIN_VUS_PER_WORKER))
    if requested < 1:
        raise UsageError("--workers must be at least 1")
    if requested > most:
        print(f"callbench: {most} VUs split {most} ways at most; using {most} workers",
              file=sys.stderr)  # fmt: skip
    return min(requested, most)


def run_here(
    scenario: Scenario,
    out_dir: Path,
    as_json: bool,
    workloads: Mapping[str, Workload] | None = None,
) -> int:
    """One process's run on the fast loop, summary printed; ``workloads`` default to the ones
    the scenario describes."""
    built = build_workloads(scenario) if workloads is None else workloads
    runner = Runner(scenario, built, out_dir, progress=progress_stream())
    outcome = run(runner.run())
    print_outcome(outcome, as_json)
    return outcome.exit_code


def run_distributed(
    args: argparse.Namespace,
    scenario: Scenario,
    out_dir: Path,
    run_local: RunLocal | None = None,
) -> int:
    """Runs ``scenario`` as the flags say. ``run_local`` runs and prints one process's share
    (default ``run_here`` with the scenario's own workloads)."""
    as_json = bool(getattr(args, "json", False))
    if run_local is None:
        run_local = lambda s, o: run_here(s, o, as_json)  # noqa: E731
    worker_slice = getattr(args, "worker_slice", None)
    shard = getattr(args, "shard", None)
    if worker_slice:  # a child of --workers: its slice, judged by the parent only
        index, count = parse_slice(worker_slice, "--worker-slice")
        part = split_scenario(scenario, index, count)
        if part is None:
            raise UsageError(f"worker slice {worker_slice} holds no work")
        return run_local(part.model_copy(update={"thresholds": []}), out_dir)
    if shard:
        if getattr(args, "workers", None) not in (None, 1):
            raise UsageError("--shard and --workers cannot be combined")
        index, count = parse_slice(shard)
        part = split_scenario(scenario, index, count)
        if part is None:
            raise UsageError(f"shard {shard} holds no work: the load has fewer VUs than shards")
        code = run_local(part, out_dir)
        mark_slice(out_dir, index, count, scenario)
        if code == exitcodes.FAILED:
            print(
                "callbench: this shard's thresholds failed on its slice alone; "
                "`callbench merge` judges the whole run",
                file=sys.stderr,
            )
            return exitcodes.PASSED
        return code
    requested = getattr(args, "workers", None)
    if requested is None and ambient_monitor_active():
        # The monitor runs in one process only, and a target under watch here is the local
        # bench, which shares these cores: one generator process measures it best.
        requested = 1
    count = resolve_workers(requested, scenario)
    if count <= 1:
        return run_local(scenario, out_dir)
    outcome = run_workers(args, scenario, out_dir, count, progress_stream())
    print_outcome(outcome, as_json)
    return outcome.exit_code
