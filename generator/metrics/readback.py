"""A run directory's store read back: from its snapshots (metrics.jsonl + metrics.hlog) when it
has them, else from its per-observation events (directories written before the snapshots, or a
run's `--raw-events` file; `.gz` is read compressed). Every reader of a finished run —
`callbench report`, the HTML report, `callbench merge` — comes through here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.metrics.snapshots import has_snapshots
from generator.metrics.store import MetricsStore

DEFAULT_RAW_EVENTS = "events.jsonl"
RAW_EVENTS_KEY = "raw_events"  # run.json: the run's --raw-events file, relative to the run dir


def raw_events_file(run_dir: Path, meta: dict[str, Any] | None = None) -> Path | None:
    """The run's per-observation events file, if it has one: the one run.json names, else
    events.jsonl or events.jsonl.gz."""
    named = (meta or {}).get(RAW_EVENTS_KEY)
    candidates = [str(named)] if isinstance(named, str) and named else []
    candidates += [DEFAULT_RAW_EVENTS, DEFAULT_RAW_EVENTS + ".gz"]
    for name in candidates:
        path = run_dir / name
        if path.is_file():
            return path
    return None


def has_results(run_dir: Path, meta: dict[str, Any] | None = None) -> bool:
    return has_snapshots(run_dir) or raw_events_file(run_dir, meta) is not None


def run_store(run_dir: Path, meta: dict[str, Any] | None = None) -> MetricsStore | None:
    """The store ``run_dir`` recorded (None: it holds neither snapshots nor events)."""
    if has_snapshots(run_dir):
        return MetricsStore.from_snapshots(run_dir)
    path = raw_events_file(run_dir, meta)
    return None if path is None else MetricsStore.from_events(path)
