"""Replaying events.jsonl files (gzip or not) into one store, whole or as they grow, or copying
them into one.

A slice's events.jsonl (generator/metrics/events.py) holds every observation: written by runs
before the snapshots existed, and by any run asked for `--raw-events`. Replaying the files of N
slices into one store gives exactly the store that would have seen every observation: trends add
bucket by bucket, counters and rates add, seconds align on each slice's own start. Gauges are
the exception: each slice's `vus` is a part of the whole, so a replayed gauge gets a `slice` tag,
and the store's gauge query (which sums over tag sets) adds them up. `merge_event_files` is how
slices with events only merge (combined.py); `copy_event_files` gathers the raw events of slices
whose figures come from their snapshots.

``EventTail`` reads only the complete lines appended since its last read (a file that grows).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from generator.metrics.events import (
    FORMAT_VERSION,
    EventParser,
    EventSink,
    event_prefix,
    open_events,
)
from generator.metrics.queries import tag_key
from generator.metrics.store import MetricsStore

SLICE_TAG = "slice"


def zero_clock() -> float:
    return 0.0


def replay_store() -> MetricsStore:
    """A store for replayed events: its clock stands at 0, so an event's `t` is its offset."""
    return MetricsStore(clock=zero_clock)


def replay(store: MetricsStore, event: dict[str, Any], slice_id: str) -> float | None:
    """Records one event in ``store``; returns the end mark's time for an end event."""
    return store.record(event, gauge_tags={SLICE_TAG: slice_id})


class EventTail:
    """Follows one growing events.jsonl, handing out only complete lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._parse = EventParser().parse

    def read_new(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # empty when the chunk ended on a newline
        out = []
        for line in lines:
            try:
                event = self._parse(line.decode("utf-8"))
            except UnicodeDecodeError:
                continue
            if event is not None:
                out.append(event)
        return out


def merge_event_files(
    paths: Iterable[tuple[str, Path]],
    sink: EventSink | None = None,
    *,
    shifts: Mapping[str, float] | None = None,
    wall: float | None = None,
) -> tuple[MetricsStore, list[float | None]]:
    """One store from the named slices' event files, and each slice's end mark (None: the
    slice was killed before it ended). The store is marked ended at the latest end. With a
    ``sink``, the merged events.jsonl: each slice's observation lines as they are (gauges with
    their slice tag), under one header (``wall``: the merged start, default now) and one end
    mark. ``shifts``: seconds added to a named slice's times (its start on the merged timeline,
    align.py); its end mark moves with them."""
    store = replay_store()
    if sink is not None:
        start = time.time() if wall is None else wall
        sink.write({"k": "start", "format": FORMAT_VERSION, "wall": start})
    ends: list[float | None] = []
    for slice_id, path in paths:
        end: float | None = None
        parse = EventParser().parse
        shift = (shifts or {}).get(slice_id, 0.0)
        for line in _lines(path):
            event = parse(line)
            if event is None:
                continue
            if shift and "t" in event:
                event, line = _shifted(event, line, shift)
            found = replay(store, event, slice_id)
            if found is not None:
                end = found
            elif sink is not None:
                _copy(sink, line, event, slice_id)
        ends.append(end)
    known = [e for e in ends if e is not None]
    # The run's meta says when a slice was cut short; the figures still cover all it recorded.
    store.finish(at=max([*known, store.last_at]))
    if sink is not None:
        sink.write({"k": "end", "t": store.ended_at})
    return store, ends


def copy_event_files(
    paths: Iterable[tuple[str, Path]],
    sink: EventSink,
    *,
    shifts: Mapping[str, float] | None = None,
    wall: float | None = None,
) -> float | None:
    """The named slices' event files copied into ``sink`` as `merge_event_files` writes them
    (one header, each slice's lines moved by its shift, gauges with their slice tag, one end
    mark at the latest end), without recording them anywhere: the figures come from the
    snapshots. Returns the end written (None: no slice ended)."""
    start = time.time() if wall is None else wall
    sink.write({"k": "start", "format": FORMAT_VERSION, "wall": start})
    latest: float | None = None
    for slice_id, path in paths:
        shift = (shifts or {}).get(slice_id, 0.0)
        parse = EventParser().parse
        write = sink.write_line
        for line in _lines(path):
            # A trend, counter or rate line (the bulk) is copied as text, its `t` moved; the rest
            # (gauges, which gain their slice tag, the header, the end mark) goes by its event.
            if line.startswith(_OBSERVATIONS):
                moved = _moved(line.rstrip("\n"), shift)
                if moved is not None:
                    write(moved)
                    continue
            event = parse(line)
            if event is None:
                continue
            if shift and "t" in event:
                event, line = _shifted(event, line, shift)
            if event.get("k") == "end":
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    end = float(event["t"])
                    latest = end if latest is None else max(latest, end)
            elif event.get("k") != "start":
                _copy(sink, line, event, slice_id)
    if latest is not None:
        sink.write({"k": "end", "t": latest})
    return latest


_OBSERVATIONS = ('{"k":"t",', '{"k":"c",', '{"k":"r",')


def _moved(line: str, shift: float) -> str | None:
    """An observation line (events.event_prefix + `t` and `v`) with its `t` moved by
    ``shift``; None when it is not one whole (a torn line: parsed the slow way, and skipped)."""
    cut = line.rfind(',"t":')
    v_at = line.find(',"v":', cut)
    if cut < 0 or v_at < 0 or not line.endswith("}"):
        return None
    if not shift:
        return line
    try:
        at = round(float(line[cut + 5 : v_at]) + shift, 6)
    except ValueError:
        return None
    return f'{line[:cut]},"t":{at!r}{line[v_at:]}'


def _lines(path: Path) -> Iterator[str]:
    with open_events(path, "r") as handle:
        try:
            yield from handle
        except (EOFError, gzip.BadGzipFile):  # a gzip stream cut off by a killed run
            return


def _shifted(event: dict[str, Any], line: str, shift: float) -> tuple[dict[str, Any], str]:
    """``event`` and its line ``shift`` seconds later. An observation line ends in its
    ``"t":T,"v":V}`` (events.event_prefix), so only that tail is rewritten."""
    try:
        at = round(float(event["t"]) + shift, 6)
    except (TypeError, ValueError):
        return event, line
    moved = {**event, "t": at}
    head, sep, _ = line.rstrip("\n").rpartition(',"t":')
    if not sep or event.get("k") not in ("t", "c", "r", "g"):
        return moved, line
    return moved, f'{head}{sep}{at!r},"v":{json.dumps(event["v"])}}}'


def _copy(sink: EventSink, line: str, event: dict[str, Any], slice_id: str) -> None:
    kind = event.get("k")
    if kind == "g":
        tags = tag_key({**event.get("g", {}), SLICE_TAG: slice_id})
        sink.write_observation(event_prefix("g", event["n"], tags), event["t"], event["v"])
    elif kind in ("t", "c", "r"):
        sink.write_line(line.strip())
