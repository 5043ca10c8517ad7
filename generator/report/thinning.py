"""Per-second rows (series.row_of's) thinned into wider rows, so that a chart of an hours-long
run holds and draws a bounded number of points (the live dashboard, report.html).

A merged row covers ``span`` consecutive seconds from its ``t`` (a per-second row has no
``span``: one second). Its figures stay honest for what each chart shows:

- counters and iterations started: the sums over its seconds (a chart "per second" divides by
  the span: the mean rate over them);
- trends: the count summed, p50/p95/p99 the **highest** of its seconds' (an older point shows
  the worst second it covers; percentiles of seconds cannot be averaged into a percentile);
- gauges (VUs) and iterations in flight: the highest of its seconds' (the peak it covers);
- rates (ok/n): the mean of its seconds' rates, weighted by the seconds that had one.

`RowLadder` keeps such rows with at most ``max_rows`` of them however many seconds it is fed:
each time it would hold more, adjacent rows are merged pairwise (bucket doubling: every row but
the newest then covers 2, 4, 8 ... seconds, the newest one filling up).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Row = dict[str, Any]
RATE_SPANS = "rate_spans"  # a merged row's seconds that had each rate (weights of the mean)


def span_of(row: Row) -> int:
    """How many seconds ``row`` covers."""
    return int(row.get("span", 1))


def _trend(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {
        "count": a["count"] + b["count"],
        "p50": max(a["p50"], b["p50"]),
        "p95": max(a["p95"], b["p95"]),
        "p99": max(a["p99"], b["p99"]),
    }


def merge_rows(a: Row, b: Row) -> Row:
    """The row covering ``a``'s seconds and then ``b``'s (adjacent, ``a`` first)."""
    trends = {**a["trends"]}
    for name, figures in b["trends"].items():
        trends[name] = _trend(trends[name], figures) if name in trends else figures
    counters = {**a["counters"]}
    for key, n in b["counters"].items():
        counters[key] = counters.get(key, 0) + n
    gauges = {**a["gauges"]}
    for key, value in b["gauges"].items():
        gauges[key] = max(gauges[key], value) if key in gauges else value
    a_spans, b_spans = _rate_spans(a), _rate_spans(b)
    rates, rate_spans = {**a["rates"]}, {**a_spans}
    for key, ratio in b["rates"].items():
        wa, wb = a_spans.get(key, 0), b_spans[key]
        rates[key] = (rates.get(key, 0.0) * wa + ratio * wb) / (wa + wb)
        rate_spans[key] = wa + wb
    ia, ib = a["iterations"], b["iterations"]
    return {
        "t": a["t"],
        "span": int(b["t"]) + span_of(b) - int(a["t"]),  # a gap between them counts as quiet
        "trends": trends,
        "counters": counters,
        "rates": rates,
        RATE_SPANS: rate_spans,
        "gauges": gauges,
        "iterations": {
            "started": ia["started"] + ib["started"],
            "in_flight": max(ia["in_flight"], ib["in_flight"]),
        },
    }


def _rate_spans(row: Row) -> dict[str, int]:
    found = row.get(RATE_SPANS)
    if isinstance(found, dict):
        return found
    return {key: span_of(row) for key in row["rates"]}


class RowLadder:
    """Rows of consecutive seconds, fed oldest first, thinned to at most ``max_rows`` rows
    (module docstring). Every row but the newest covers ``width`` seconds."""

    def __init__(self, max_rows: int) -> None:
        if max_rows < 2:
            raise ValueError("a ladder needs room for two rows at least")
        self.max_rows = max_rows
        self.width = 1
        self.rows: list[Row] = []

    def add(self, row: Row) -> None:
        """The next second's (or seconds') row, after the newest one held (seconds between
        them, never seen, count as quiet in the row they fall in)."""
        rows = self.rows
        if rows and span_of(rows[-1]) < self.width:
            rows[-1] = merge_rows(rows[-1], row)
        else:
            rows.append(row)
        if len(rows) > self.max_rows:
            self.width *= 2
            self.rows = [
                merge_rows(rows[i], rows[i + 1]) if i + 1 < len(rows) else rows[i]
                for i in range(0, len(rows), 2)
            ]

    def end(self) -> int | None:
        """The second after the newest one held (None when empty)."""
        return None if not self.rows else int(self.rows[-1]["t"]) + span_of(self.rows[-1])


def thin_rows(rows: Iterable[Row], max_rows: int) -> list[Row]:
    """``rows`` (consecutive seconds) as they are when there are at most ``max_rows`` of them,
    else thinned by a `RowLadder` to at most that many."""
    rows = list(rows)
    if len(rows) <= max_rows:
        return rows
    ladder = RowLadder(max_rows)
    for row in rows:
        ladder.add(row)
    return ladder.rows
