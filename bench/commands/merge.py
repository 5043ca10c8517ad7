"""`callbench merge DIR... [--out DIR]`: merges the run directories of `--shard I/N` runs (or of
any runs of one scenario) into one run directory — the snapshots (metrics.jsonl + metrics.hlog),
summary.json, junit.xml, report.md, report.html; the raw events when every slice has them — and
evaluates the scenario's thresholds on the merged figures. Directories written before snapshots
(events.jsonl only) are read too. HDR histograms,
counters and per-second series merge exactly, so the percentiles are those of one run that saw
every sample. Exit code as for a run: 0 passed, 1 thresholds failed, 130 a slice was cut short.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.monitoring import runbooks_dir
from generator.distributed.merge import merge_run_dirs
from generator.launch import print_outcome
from generator.runner import default_out_dir


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("merge", help="merge sharded run directories", description=__doc__)
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="run directories to merge")
    p.add_argument("--out", type=Path, help="merged run directory (default runs/<timestamp>)")
    p.add_argument("--json", action="store_true", help="machine-readable summary on stdout")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    outcome = merge_run_dirs(args.dirs, args.out or default_out_dir(), runbooks=runbooks_dir())
    print_outcome(outcome, args.json)
    return outcome.exit_code
