"""How one run is spread over processes (`Distribution`), and the one call (`run_distributed`)
that sends a validated scenario down the right path:

    shard (I, N)         run slice I of N here (merge the slices with `callbench merge`; a
                         slice's thresholds say little, the merge decides)
    workers N            run N slices in N processes here, judged live as one run
    (neither)            one process per core when the load is big enough, else one

With a ``start_at`` (`--start-at`, start_at.py) the process holds until that instant once its
input is checked and before anything starts: a shard before its slice, the parent of workers
before it spawns them (they start within their start-up time after it; the merge aligns every
slice by its own wall-clock start anyway).

Default workers: one per core, but only as many as give each worker at least
MIN_VUS_PER_WORKER VUs — below that one process is not CPU-bound, and each extra process costs
~0.5 s of start-up and its own connection pool — so `--calls 10` stays a single process on any
machine, and on one core everything does.

The values are plain: the CLI layer (bench/commands/run_options.py) reads them from its flags.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from generator import exitcodes
from generator.distributed.fastloop import run
from generator.distributed.merge import mark_slice
from generator.distributed.split import parallelism, split_scenario
from generator.distributed.start_at import StartAt
from generator.distributed.workers import WorkerEntry, run_workers, scenario_entry
from generator.errors import InvalidInput
from generator.launch import print_outcome
from generator.options import RunOptions
from generator.runner import Runner
from generator.scenario import Scenario
from generator.workloads.base import Workload

MIN_VUS_PER_WORKER = 25
RunLocal = Callable[[Scenario, RunOptions], int]


@dataclass(frozen=True)
class Distribution:
    """``workers``: processes to run in (None: decide from the load and the cores). ``shard``:
    (I, N), run slice I of N here. ``worker_slice``: (I, N) set in a worker process of a
    ``workers`` run — its slice, judged by the parent only. ``entry``: how a worker process
    starts (None: from the scenario alone, generator/distributed/workers.py). ``as_json``: the
    summary is printed as JSON. ``start_at``: the instant the load begins (None: at once); a
    worker slice never waits, its parent did."""

    workers: int | None = None
    shard: tuple[int, int] | None = None
    worker_slice: tuple[int, int] | None = None
    entry: WorkerEntry | None = None
    as_json: bool = False
    start_at: StartAt | None = None

    def hold(self) -> None:
        """Waits for ``start_at`` (nothing when there is none)."""
        if self.start_at is not None:
            self.start_at.wait()


def resolve_workers(requested: int | None, scenario: Scenario, cores: int | None = None) -> int:
    cores = cores or os.cpu_count() or 1
    most = parallelism(scenario)
    if requested is None:
        return max(1, min(cores, most // MIN_VUS_PER_WORKER))
    if requested < 1:
        raise InvalidInput("--workers", ["must be at least 1"])
    if requested > most:
        print(f"callbench: {most} VUs split {most} ways at most; using {most} workers",
              file=sys.stderr)  # fmt: skip
    return min(requested, most)


def run_here(
    scenario: Scenario,
    options: RunOptions,
    as_json: bool,
    workloads: Mapping[str, Workload] | None = None,
) -> int:
    """One process's run on the fast loop, summary printed; ``workloads`` default to the ones
    the scenario describes."""
    outcome = run(Runner(scenario, options, workloads).run())
    print_outcome(outcome, as_json)
    return outcome.exit_code


def run_distributed(
    plan: Distribution,
    scenario: Scenario,
    options: RunOptions,
    run_local: RunLocal | None = None,
) -> int:
    """Runs ``scenario`` as ``plan`` says. ``run_local`` runs and prints one process's share
    (default ``run_here`` with the scenario's own workloads)."""
    if run_local is None:
        run_local = lambda s, o: run_here(s, o, plan.as_json)  # noqa: E731
    if plan.worker_slice is not None:
        index, count = plan.worker_slice
        part = split_scenario(scenario, index, count)
        if part is None:
            raise InvalidInput("worker slice", [f"{index}/{count} holds no work"])
        return run_local(part.model_copy(update={"thresholds": []}), options)
    if plan.shard is not None:
        if plan.workers not in (None, 1):
            raise InvalidInput("--shard", ["cannot be combined with --workers"])
        index, count = plan.shard
        part = split_scenario(scenario, index, count)
        if part is None:
            raise InvalidInput(
                "--shard", [f"{index}/{count} holds no work: the load has fewer VUs than shards"]
            )
        plan.hold()
        code = run_local(part, options)
        mark_slice(options.out_dir, index, count, scenario)
        if code == exitcodes.FAILED:
            print(
                "callbench: this shard's thresholds failed on its slice alone; "
                "`callbench merge` judges the whole run",
                file=sys.stderr,
            )
            return exitcodes.PASSED
        return code
    requested = plan.workers
    if requested is None and options.monitored:
        # A target under watch here is the local bench, which shares these cores: one
        # generator process measures it best. (The live dashboard charts the parent's combined
        # store, so it leaves the count alone.)
        requested = 1
    count = resolve_workers(requested, scenario)
    entry = plan.entry if plan.entry is not None else scenario_entry(scenario)
    plan.hold()
    if count <= 1:
        return run_local(scenario, options)
    outcome = run_workers(entry, scenario, options, count)
    print_outcome(outcome, plan.as_json)
    return outcome.exit_code
