"""`--dashboard [PORT]` on every load command (calls, http, webhooks, connections, run): serve
the run's live page on 127.0.0.1 while it goes (generator/report/dashboard.py), on PORT or, with
no PORT or 0, on a free port; the URL is printed either way.

    add_dashboard_argument(parser)   the flag (run_options.add_distribution_arguments adds it)
    dashboard_from_args(args)        DashboardSettings, or None without the flag

With `--workers N` the parent serves the page from the store it combines its workers'
snapshots into (generator/report/dashboard_thread.py): the flag leaves the number of workers
alone. A `--workers` child never serves one (run_options builds its options without it).
"""

from __future__ import annotations

import argparse

from generator.report.dashboard_settings import DashboardSettings


def dashboard_port(text: str) -> int:
    """A port number 0-65535; anything else says what the flag wants (the usual slip being a
    positional argument right after a bare `--dashboard`)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"PORT must be a number from 0 to 65535, not {text!r} (a bare --dashboard goes "
            "last, or write --dashboard=0)"
        )
    return port


def add_dashboard_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dashboard",
        nargs="?",
        const=0,
        type=dashboard_port,
        metavar="PORT",
        help="serve a live page of the run's charts on 127.0.0.1 while it goes (no PORT or 0: a "
        "free port; with --workers, the parent serves the combined run); its URL is printed",
    )


def dashboard_from_args(args: argparse.Namespace) -> DashboardSettings | None:
    port = getattr(args, "dashboard", None)
    return None if port is None else DashboardSettings(port=port)
