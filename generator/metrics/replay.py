"""One events.jsonl event (a run's `--raw-events` file, or a directory written before the
snapshots) recorded into a store at its own time: `MetricsStore.record` and `from_events`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from generator.metrics.queries import Tags

if TYPE_CHECKING:  # the store calls in here; only its type is needed
    from generator.metrics.store import MetricsStore


def record_event(
    store: MetricsStore, event: Mapping[str, Any], gauge_tags: Tags = None
) -> float | None:
    """Records ``event`` at its own time; returns the time of an end mark. ``gauge_tags`` are
    added to a gauge's tags (a worker's slice: its gauge is a part of the whole). An event that
    does not parse (a newer format, a torn write) is skipped."""
    kind = event.get("k")
    try:
        if kind == "end":
            return float(event["t"])
        at, name, value = float(event["t"]), str(event["n"]), event["v"]
        tags = event.get("g") or {}
        if not isinstance(tags, dict):
            return None
        if kind == "t":
            store.add_trend(name, float(value), tags, at=at)
        elif kind == "c":
            store.add_counter(name, int(value), tags, at=at)
        elif kind == "r":
            store.add_rate(name, bool(value), tags, at=at)
        elif kind == "g":
            store.add_gauge(name, float(value), {**tags, **(gauge_tags or {})}, at=at)
    except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: an infinite trend
        pass
    return None
