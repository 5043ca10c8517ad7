"""`callbench run SCENARIO.yaml`: any mix of workloads and load models from a file
(docs/scenario.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.commands.monitor_flags import add_monitor_arguments
from bench.commands.run_options import add_distribution_arguments, run_distributed
from generator.runner import default_out_dir
from generator.scenario import load_scenario


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run a scenario file", description=__doc__)
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--out", type=Path, help="run directory (default runs/<timestamp>)")
    p.add_argument("--json", action="store_true", help="machine-readable summary on stdout")
    add_distribution_arguments(p)
    add_monitor_arguments(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    return run_distributed(args, scenario, args.out or default_out_dir())
