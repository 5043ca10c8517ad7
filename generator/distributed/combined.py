"""The figures of several slices combined into one store, and their files into one run directory.

Slices that wrote snapshots (metrics.jsonl + metrics.hlog) are combined snapshot by snapshot
(generator/metrics/combine.py): each moves by its whole-second start offset (align.py), its
gauges tagged with its slice, and the combined snapshots are written into the merged run
directory as they are made, so reading and writing cost seconds × series, never observations.
A slice written before snapshots existed (events.jsonl only) is first recorded into snapshots of
its own, its times moved exactly by its offset. When every slice has only events, they merge as
they always did, exactly, into one events.jsonl (tail.merge_event_files).

A run's per-observation events (`--raw-events`) are not needed for any figure; when every slice
has them, they are copied into one file of the merged run (each line moved by its slice's
offset, gauges tagged), which costs a pass over every line — the price of asking for them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.distributed.align import whole_seconds
from generator.distributed.tail import SLICE_TAG, copy_event_files, merge_event_files
from generator.metrics.combine import Combiner, read_source
from generator.metrics.events import EventSink, read_events
from generator.metrics.readback import RAW_EVENTS_KEY, raw_events_file
from generator.metrics.snapshots import SnapshotWriter, has_snapshots
from generator.metrics.store import MetricsStore, frozen_clock


@dataclass
class Combined:
    """The merged store and what the merged run.json says of it."""

    store: MetricsStore
    ends: list[float | None]  # each slice's end on the merged timeline (None: cut short)
    raw_events: str | None = None  # the merged run's raw events file, when one was written


def combine_run_dirs(
    run_dirs: Sequence[Path],
    metas: Sequence[dict[str, Any]],
    ids: Sequence[str],
    offsets: Sequence[float],
    out_dir: Path,
    wall: float | None,
) -> Combined:
    """The slices ``run_dirs`` (``ids`` their slice ids, ``offsets`` their starts on the merged
    timeline) combined into ``out_dir``."""
    if not any(has_snapshots(d) for d in run_dirs):
        return _merge_events(run_dirs, metas, ids, offsets, out_dir, wall)
    writer = SnapshotWriter(out_dir, wall_start=wall)
    combiner = Combiner(writer)
    shifts = whole_seconds(offsets)
    ends: list[float | None] = []
    try:
        with tempfile.TemporaryDirectory(prefix="callbench-merge-") as scratch:
            for index, run_dir in enumerate(run_dirs):
                shift, tags = shifts[index], {SLICE_TAG: ids[index]}
                source_dir = run_dir
                if not has_snapshots(run_dir):
                    source_dir = Path(scratch) / str(index)
                    _events_to_snapshots(run_dir, metas[index], offsets[index], source_dir)
                    shift = 0  # moved exactly as its events were recorded again
                source = combiner.source(shift, tags)
                for fold, parts in read_source(source_dir):
                    combiner.add(source, fold, parts)
                ends.append(source.ended_at)
        combiner.finish()
    finally:
        combiner.close()
    combined = Combined(combiner.store, ends)
    combined.raw_events = copy_raw_events(run_dirs, metas, ids, offsets, out_dir, wall)
    return combined


def copy_raw_events(
    run_dirs: Sequence[Path],
    metas: Sequence[dict[str, Any]],
    ids: Sequence[str],
    offsets: Sequence[float],
    out_dir: Path,
    wall: float | None,
) -> str | None:
    """Copies the slices' raw events into one file of ``out_dir`` when every slice has one
    (named as the first slice's); returns its name, None when none was written."""
    files = [raw_events_file(d, m) for d, m in zip(run_dirs, metas, strict=True)]
    if not files or any(f is None for f in files):
        return None
    named = metas[0].get(RAW_EVENTS_KEY)
    name = named if isinstance(named, str) and named else files[0].name  # type: ignore[union-attr]
    target = out_dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    sink = EventSink(target, flush_interval_s=3600.0)
    try:
        copy_event_files(
            [(i, f) for i, f in zip(ids, files, strict=True) if f is not None],
            sink,
            shifts=dict(zip(ids, offsets, strict=True)),
            wall=wall,
        )
    finally:
        sink.close()
    return name


def _events_to_snapshots(run_dir: Path, meta: dict[str, Any], shift: float, out: Path) -> None:
    """Records an events-only slice again, ``shift`` seconds later, into snapshots in ``out``."""
    path = raw_events_file(run_dir, meta)
    writer = SnapshotWriter(out, wall_start=0.0)
    store = MetricsStore(clock=frozen_clock, snapshots=writer)
    end: float | None = None
    if path is not None:
        for event in read_events(path):
            if "t" in event:
                try:
                    event = {**event, "t": float(event["t"]) + shift}
                except (TypeError, ValueError):
                    continue
            found = store.record(event)
            if found is not None:
                end = found
    if end is not None:
        store.finish(at=end)
    else:
        store.tick()
    writer.close()


def _merge_events(
    run_dirs: Sequence[Path],
    metas: Sequence[dict[str, Any]],
    ids: Sequence[str],
    offsets: Sequence[float],
    out_dir: Path,
    wall: float | None,
) -> Combined:
    """Slices with events only (written before snapshots): merged exactly, into events.jsonl."""
    events = out_dir / "events.jsonl"
    events.unlink(missing_ok=True)
    sink = EventSink(events, flush_interval_s=3600.0)
    files = [
        raw_events_file(d, m) or d / "events.jsonl" for d, m in zip(run_dirs, metas, strict=True)
    ]
    try:
        store, ends = merge_event_files(
            zip(ids, files, strict=True),
            sink,
            shifts=dict(zip(ids, offsets, strict=True)),
            wall=wall,
        )
    finally:
        sink.close()
    return Combined(store, ends, raw_events="events.jsonl")
