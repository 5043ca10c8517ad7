"""Several metrics recorded at one instant, in one step: what an HTTP mix records per request.

k6 records five values per HTTP request (http_reqs, http_req_duration, http_req_failed,
iterations, iteration_duration), and the HTTP mix does too, so summaries and thresholds see all
five. Through `add_counter`/`add_trend`/`add_rate` that is five clock readings, five slot
lookups (a tuple of the tags built and hashed each time) and five visits to the current second:
7.9 µs a request, as much as the lean client's own work. A `Bundle` looks its slots up once and
records them all from one clock reading and one visit to the second, into the same
accumulators, with the same result as the separate calls (tests/generator/metrics/test_bundle.py
checks it, snapshots included).

Where the store writes raw events or tells a listener (the live /metrics exporter) every
observation, and for any store that is not a `MetricsStore` (the workloads' tests record into a
stand-in), a bundle makes the separate calls instead, so those see exactly what they saw before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from generator.metrics.queries import Tags
from generator.metrics.store import ITERATION_TREND, MetricsStore

Metric = tuple[str, Tags]  # a metric's name and tag set


class Recorder(Protocol):
    """The recording methods a bundle falls back to (MetricsStore's, or a stand-in's)."""

    def add_counter(self, name: str, n: int = 1, tags: Tags = None) -> None: ...

    def add_trend(self, name: str, value_ms: float, tags: Tags = None) -> None: ...

    def add_rate(self, name: str, ok: bool, tags: Tags = None) -> None: ...


class Bundle:
    """``counters`` each count one, ``rates`` each get the same pass (``flag``), ``trends`` each
    the same value (ms), every time `add` is called."""

    __slots__ = ("_counters", "_fast", "_names", "_rates", "_spans", "_store", "_trends")

    def __init__(
        self,
        store: Recorder,
        counters: Sequence[Metric] = (),
        rates: Sequence[Metric] = (),
        trends: Sequence[Metric] = (),
    ) -> None:
        self._store = store
        self._names = (tuple(counters), tuple(rates), tuple(trends))
        self._fast = isinstance(store, MetricsStore)
        self._counters: tuple[Any, ...] = ()
        self._rates: tuple[Any, ...] = ()
        self._trends: tuple[Any, ...] = ()
        self._spans = False
        if isinstance(store, MetricsStore):
            # The store's own slots (store.py `_slot`): the accumulators its add_* methods use.
            self._counters = tuple(store._slot("c", n, t) for n, t in counters)
            self._rates = tuple(store._slot("r", n, t) for n, t in rates)
            self._trends = tuple(store._slot("t", n, t) for n, t in trends)
            self._spans = any(name == ITERATION_TREND for name, _ in trends)

    @property
    def store(self) -> Recorder:
        return self._store

    def add(self, value_ms: float, flag: bool) -> None:
        store = self._store
        if not self._fast or store._sink is not None or store._listener is not None:  # type: ignore[attr-defined]
            self._one_by_one(value_ms, flag)
            return
        assert isinstance(store, MetricsStore)
        # What add_counter, add_rate and add_trend do, from one clock reading (store.py).
        offset = store._offset(None)
        delta = store._second(offset)
        counters = delta.counters
        for slot in self._counters:
            slot.table[slot.key] += 1
            counters[slot.series] += 1
        passed = 1 if flag else 0
        rates = delta.rates
        for slot in self._rates:
            pair = slot.table[slot.key]
            pair[0] += passed
            pair[1] += 1
            pair = rates.get(slot.series)
            if pair is None:
                pair = rates[slot.series] = [0, 0]
            pair[0] += passed
            pair[1] += 1
        value = float(value_ms)
        trends = delta.trends
        for slot in self._trends:
            counts = trends.get(slot.series)
            if counts is None:
                counts = trends[slot.series] = {}
            slot.table[slot.key].add_counted(value, counts)
        if self._spans:
            start = offset - value / 1000.0
            if store._second_at is not None and store._second_at <= start <= offset:
                # Started in this same second, as nearly every request did: series.py's `span`
                # for that case, without its loop (0.9 µs of the 2 an iteration trend took).
                delta.started += 1
                delta.busy_us += round((offset - start) * 1e6)
            else:
                store._pending.span(start, offset)

    def _one_by_one(self, value_ms: float, flag: bool) -> None:
        store = self._store
        counters, rates, trends = self._names
        for name, tags in counters:
            store.add_counter(name, 1, tags)
        for name, tags in rates:
            store.add_rate(name, flag, tags)
        for name, tags in trends:
            store.add_trend(name, value_ms, tags)


__all__ = ["Bundle", "Metric", "Recorder"]
