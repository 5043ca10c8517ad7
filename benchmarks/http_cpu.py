"""CPU time per HTTP request of callbench's run, in process: `python -m benchmarks.http_cpu
[--seconds S] [--rounds N] [--client fast|aiohttp]`.

The HTTP mix's constant-vus scenario (64 VUs, as benchmarks/http_peers.py runs it) against nginx
pinned to core 1, this process pinned to core 0, on uvloop as the CLI runs; each round's CPU
time (`time.process_time`, user + system) over the requests it made. No interpreter start-up
or reports are in it, and a neighbour that takes part of the core moves it far less than it
moves requests/s: what to judge a hot-path change by on a shared machine (A/B: run it on both
trees, interleaved).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import CLIENT_CORE, nginx
from generator.distributed.fastloop import run as run_on_fast_loop
from generator.options import RunOptions
from generator.runner import run_scenario
from generator.scenario import scenario_from_dict


def one_round(url: str, seconds: float, client: str) -> tuple[int, float, float]:
    """(requests, CPU seconds, wall seconds) of one run."""
    config = {"base_url": url, "endpoints": [{"name": "root", "path": "/"}],
              "health_path": None, "max_connections": 64, "client": client}  # fmt: skip
    load = {"executor": "constant-vus", "vus": 64, "duration": f"{seconds}s"}
    workload = {"type": "http", "config": config, "load": load}
    scenario = scenario_from_dict({"name": "http-cpu", "workloads": {"http": workload}})
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(Path(tmp) / "run", handle_sigint=False, reports=False)
        cpu, wall = time.process_time(), time.monotonic()
        outcome = run_on_fast_loop(run_scenario(scenario, options))
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    return int(outcome.summary.counters.get("http_reqs", 0)), cpu, wall


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http_cpu", description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", choices=("fast", "aiohttp"), default="fast")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(CLIENT_CORE)})
    per_request: list[float] = []
    with nginx() as served:
        for _ in range(args.rounds):
            requests, cpu, wall = one_round(served.url, args.seconds, args.client)
            if requests == 0:
                print("no request was answered", file=sys.stderr)
                return 1
            per_request.append(cpu / requests * 1e6)
            print(f"{requests} requests, {cpu:.2f} CPU-s in {wall:.2f} s: "
                  f"{per_request[-1]:.1f} µs CPU per request, {requests / wall:,.0f} req/s "
                  f"({cpu / wall:.0%} of the core)", flush=True)  # fmt: skip
    print(f"median {statistics.median(per_request):.1f} µs CPU per request "
          f"(least {min(per_request):.1f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
