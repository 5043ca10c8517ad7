"""Lining slices up by wall clock: where each slice's own timeline starts on the merged one.

A slice's observations carry seconds since its own store started (``t``); slices that did not
start together (pods scheduled apart, a late shard) would pile their first seconds onto one
another if merged as they are. Each slice's start is its store's wall-clock instant (the `wall`
of its events.jsonl or metrics.jsonl header, written when its store started, which a shard's
run.json repeats as `wall_start`; run.json's `started_at`, whole seconds and taken before set-up,
for directories that have neither), and
its offset is that start minus the earliest slice's:

    offsets = start_offsets([wall_start(d) for d in run_dirs])
    events:     t + offsets[i]                        (exact; merge.py, tail.merge_event_files)
    snapshots:  second + whole_seconds(offsets)[i]    (per-second buckets move by whole seconds:
                merged.merge(MetricsStore.from_snapshots(d), shift_s=whole_seconds(offsets)[i]))

A slice whose start is unknown is taken to have started with the earliest one (offset 0).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HEADER_FILES = ("events.jsonl", "metrics.jsonl")


def wall_start(run_dir: Path, meta: dict[str, Any] | None = None) -> float | None:
    """The wall-clock instant (Unix seconds) ``run_dir``'s store started, None if unknown:
    run.json's ``wall_start`` (``meta``), else its events' or snapshots' header, else
    ``started_at``."""
    recorded = (meta or {}).get("wall_start")
    if isinstance(recorded, int | float) and not isinstance(recorded, bool):
        return float(recorded)
    for name in HEADER_FILES:
        wall = _header_wall(run_dir / name)
        if wall is not None:
            return wall
    started = (meta or {}).get("started_at")
    if isinstance(started, str):
        try:
            when = dt.datetime.fromisoformat(started)
        except ValueError:
            return None
        if when.tzinfo is not None:
            return when.timestamp()
    return None


def _header_wall(path: Path) -> float | None:
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        header = json.loads(first)
    except json.JSONDecodeError:
        return None
    if not isinstance(header, dict) or header.get("k") != "start":
        return None
    wall = header.get("wall")
    if isinstance(wall, int | float) and not isinstance(wall, bool):
        return float(wall)
    return None


def start_offsets(starts: Sequence[float | None]) -> list[float]:
    """Each slice's start minus the earliest known start, in seconds (0 where unknown)."""
    known = [s for s in starts if s is not None]
    if not known:
        return [0.0 for _ in starts]
    first = min(known)
    return [0.0 if s is None else s - first for s in starts]


def whole_seconds(offsets: Sequence[float]) -> list[int]:
    """The offsets for series that move by whole seconds only (per-second snapshots)."""
    return [round(o) for o in offsets]
