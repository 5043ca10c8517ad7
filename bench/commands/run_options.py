"""From a load command's flags to the generator's plain values: the flags every load command
shares (`--workers N`, `--shard I/N`, `--start-at TIME`, and the monitor's,
bench/commands/monitor_flags.py), the `RunOptions` and `Distribution` they mean, and the entry a
`--workers` child process starts from (it re-runs the same command on the same flags, told its
slice).

    add_distribution_arguments(parser)        --workers, --shard, --start-at (and the hidden
                                              --worker-slice), --dashboard (dashboard_flag.py),
                                              --raw-events [FILE]
    run_options(args, out_dir)                RunOptions: monitor, export hook, progress line,
                                              live dashboard, raw events
    distribution_from_args(args)              Distribution: workers, shard, worker entry, start
    hold_until_start(args)                    waits for --start-at (a plan's runs, which take no
                                              Distribution)
    run_distributed(args, scenario, out_dir)  both, handed to the generator's run_distributed

No argparse.Namespace goes into generator/: the worker entry's argument is opaque to it.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

from bench.cli import Handler, run_handler
from bench.commands.dashboard_flag import add_dashboard_argument, dashboard_from_args
from bench.commands.monitor_flags import export_settings_from_args, monitor_config_from_args
from bench.errors import UsageError
from bench.monitoring import STACK_DIR, runbooks_dir
from generator.distributed import shards
from generator.distributed.shards import MIN_VUS_PER_WORKER, Distribution, RunLocal
from generator.distributed.split import parse_slice
from generator.distributed.start_at import StartAt
from generator.distributed.workers import WorkerEntry, WorkerSlice
from generator.metrics.readback import DEFAULT_RAW_EVENTS
from generator.options import RunOptions
from generator.runner import progress_stream
from generator.scenario import Scenario

# What a run directory holds of its own: --raw-events must not overwrite one of them.
RUN_DIR_FILES = (
    "run.json",
    "metrics.jsonl",
    "metrics.hlog",
    "summary.json",
    "junit.xml",
    "report.md",
    "report.html",
    "monitor.jsonl",
    "stdout.txt",
    "stderr.txt",
)


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
    parser.add_argument(
        "--start-at",
        metavar="TIME",
        help="hold the load until TIME: ISO 8601 with a timezone (2026-12-02T05:00:00Z), a Unix "
        "timestamp, or +N s from now; give every shard the same instant",
    )
    parser.add_argument("--worker-slice", help=argparse.SUPPRESS)
    add_dashboard_argument(parser)
    add_raw_events_argument(parser)


def add_raw_events_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--raw-events",
        nargs="?",
        const=DEFAULT_RAW_EVENTS,
        metavar="FILE",
        help="also write every observation, one JSON line each, to FILE in the run directory "
        f"(default {DEFAULT_RAW_EVENTS}; gzip when FILE ends in .gz). Without it a run writes "
        "only per-second snapshots",
    )


def raw_events_from_args(args: argparse.Namespace) -> Path | None:
    """The --raw-events file, relative to the run directory (None: not asked for)."""
    text = getattr(args, "raw_events", None)
    if text is None:
        return None
    path = Path(text)
    if not text.strip() or text.endswith(("/", "\\")) or path.name in RUN_DIR_FILES:
        raise UsageError(
            f"--raw-events {text!r}: give a file name such as events.jsonl or run.jsonl.gz "
            f"(not a directory, nor one of the run's own files: {', '.join(RUN_DIR_FILES)})"
        )
    if path.is_absolute() or ".." in path.parts:
        # Inside the run directory: each --workers child writes its own beside its snapshots,
        # and the merged run's file goes into OUT.
        raise UsageError(
            f"--raw-events {text!r}: the file is written inside the run directory (--out); "
            "give a name relative to it, such as run.jsonl.gz"
        )
    return path


def run_options(args: argparse.Namespace, out_dir: Path, stack_dir: Path = STACK_DIR) -> RunOptions:
    """The options the flags ask for. A worker process of `--workers` never monitors nor serves
    /metrics: its parent does."""
    raw_events = raw_events_from_args(args)
    if getattr(args, "worker_slice", None):
        return RunOptions(
            out_dir=out_dir,
            progress=progress_stream(),
            runbooks=runbooks_dir(),
            raw_events=raw_events,
            snapshot_tee=getattr(args, "snapshot_tee", None),
            reports=False,  # the parent writes the merged run's
        )
    config = monitor_config_from_args(args, stack_dir)
    watching = config is not None and not config.is_empty
    export = export_settings_from_args(args, stack_dir, watching)
    return RunOptions(
        out_dir=out_dir,
        monitor=config if watching else None,
        export=export,
        progress=progress_stream(),
        runbooks=runbooks_dir(),
        dashboard=dashboard_from_args(args),
        raw_events=raw_events,
    )


def distribution_from_args(args: argparse.Namespace) -> Distribution:
    workers = getattr(args, "workers", None)
    shard = getattr(args, "shard", None)
    worker_slice = getattr(args, "worker_slice", None)
    if shard and workers not in (None, 1):
        raise UsageError("--shard and --workers cannot be combined")
    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    return Distribution(
        workers=workers,
        shard=parse_slice(shard) if shard else None,
        worker_slice=parse_slice(worker_slice, "--worker-slice") if worker_slice else None,
        entry=WorkerEntry(f"{__name__}:run_worker", args),
        as_json=bool(getattr(args, "json", False)),
        start_at=start_at_from_args(args),
    )


def start_at_from_args(args: argparse.Namespace) -> StartAt | None:
    """The --start-at instant (None: start at once); a relative one counts from now."""
    text = getattr(args, "start_at", None)
    return StartAt.parse(text) if text else None


def hold_until_start(args: argparse.Namespace) -> None:
    """Waits for --start-at where no Distribution does (a plan of several runs)."""
    start = start_at_from_args(args)
    if start is not None:
        start.wait()


def run_distributed(
    args: argparse.Namespace,
    scenario: Scenario,
    out_dir: Path,
    run_local: RunLocal | None = None,
) -> int:
    """Runs ``scenario`` as the flags say (generator/distributed/shards.py)."""
    plan = distribution_from_args(args)
    return shards.run_distributed(plan, scenario, run_options(args, out_dir), run_local)


def run_worker(args: object, part: WorkerSlice) -> int:
    """A `--workers` child's entry (WorkerEntry): the parent's command on the parent's flags,
    told its slice and run directory; exceptions become exit codes as in the CLI (the parent
    reports an interruption, so a worker says nothing of it)."""
    assert isinstance(args, argparse.Namespace)
    child = copy.copy(args)
    child.worker_slice, child.workers, child.shard = f"{part.index}/{part.count}", 1, None
    child.start_at = None  # the parent waited before it started its workers
    child.out, child.json = part.out_dir, False
    child.snapshot_tee = part.snapshot_tee()  # its snapshots to the parent, over its pipe
    handler: Handler = child.handler
    return run_handler(handler, child, quiet_interrupt=True)
