"""How a run is run, apart from what it runs (the Scenario): `RunOptions`, handed to
``Runner(scenario, options)``.

The caller builds them — the CLI layer (bench/commands/*) from its flags and the bench's stack,
a test or a program by hand — so the generator reads no flags, no files of the bench and no
module state: everything a run depends on is in its Scenario, its options and its workloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from generator.load.base import Timeline
from generator.metrics.exporter import ExportSettings
from generator.metrics.snapshots import Tee
from generator.monitor.config import MonitorConfig
from generator.monitor.monitor import Monitor
from generator.report.dashboard_settings import DashboardSettings


@dataclass(frozen=True)
class RunOptions:
    """``out_dir``: the run directory. ``monitor``: what to watch on the target — a config (a
    fresh Monitor per run, so each step of a plan has its own), a Monitor already built (a test's
    fake sources; one run only) or None. ``export``: whether and where the run serves its own
    /metrics (None: it does not). ``progress``: where the live line goes (None: nowhere).
    ``timeline``: the clock and sleep of the load models and the monitor. ``handle_sigint``:
    Ctrl-C stops the run and still writes its results (off where the caller owns the signal).
    ``runbooks``: the directory of the findings' runbooks, ``ID.md`` each (the HTML report links
    them; None: a finding's runbook id is shown, not linked). ``dashboard``: serve the live page
    on 127.0.0.1 while the run goes (generator/report/dashboard.py; None: no page).
    ``raw_events``: also write every observation there (events.jsonl, gzip when the name ends in
    .gz; a relative path is inside the run directory; None: snapshots only). ``snapshot_tee``: told
    of each snapshot's text as it is written (a `--workers` child hands its snapshots over so).
    ``reports``: write junit.xml, report.md and report.html besides summary.json (off in a
    `--workers` child: the parent writes the merged run's, and the child's would only delay it).
    """

    out_dir: Path
    monitor: MonitorConfig | Monitor | None = None
    export: ExportSettings | None = None
    progress: TextIO | None = None
    timeline: Timeline = field(default_factory=Timeline)
    handle_sigint: bool = True
    runbooks: Path | None = None
    dashboard: DashboardSettings | None = None
    raw_events: Path | None = None
    snapshot_tee: Tee | None = None
    reports: bool = True

    @property
    def raw_events_path(self) -> Path | None:
        """Where the per-observation events go (None: nowhere)."""
        return None if self.raw_events is None else self.out_dir / self.raw_events

    @property
    def monitored(self) -> bool:
        """Whether runs with these options watch the target."""
        if isinstance(self.monitor, MonitorConfig):
            return not self.monitor.is_empty
        return self.monitor is not None

    def new_monitor(self) -> Monitor | None:
        """The Monitor for one run (None: the run is not monitored)."""
        if isinstance(self.monitor, MonitorConfig):
            return None if self.monitor.is_empty else Monitor(self.monitor)
        return self.monitor

    def at(self, out_dir: Path) -> RunOptions:
        """The same options for a run into ``out_dir`` (a step of a plan, a worker's slice)."""
        return replace(self, out_dir=out_dir)
