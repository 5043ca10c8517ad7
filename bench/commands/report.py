"""`callbench report RUN_DIR`: renders a finished or interrupted run again from its run.json and
its snapshots (metrics.jsonl + metrics.hlog; a run directory written before them, or holding
only a --raw-events file, from its events.jsonl[.gz]), in any format (html: written to
RUN_DIR/report.html)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import exitcodes
from bench.monitoring import runbooks_dir
from generator.report.html import write_html_report
from generator.report.junit import render_junit
from generator.report.markdown import render_markdown
from generator.report.rerender import rebuild_run
from generator.report.summary_model import Summary
from generator.report.terminal import render_terminal

RENDERERS: dict[str, Callable[[Summary], str]] = {
    "md": render_markdown,
    "json": Summary.dumps,
    "junit": render_junit,
    "text": render_terminal,
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("report", help="render a run again", description=__doc__)
    p.add_argument("run_dir", type=Path, help="the run's directory (--out of the run)")
    p.add_argument(
        "--format",
        choices=(*RENDERERS, "html"),
        default="md",
        help="html writes RUN_DIR/report.html (charts inlined) and prints its path",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    summary, store = rebuild_run(args.run_dir)
    if args.format == "html":
        rows = store.series_rows()
        written = write_html_report(args.run_dir, summary, rows, runbooks_dir())
        if written is None:
            return exitcodes.FAILED
        print(written)
    else:
        print(RENDERERS[args.format](summary))
    return exitcodes.PASSED if summary.passed else exitcodes.FAILED
