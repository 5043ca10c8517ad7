"""RUN_DIR/metrics.hlog: every trend's per-second histograms as an HdrHistogram interval log.

The format is HdrHistogram's own (log format 1.3, which jHiccup, cassandra-stress and
HistogramLogAnalyzer read; hdrh's `HistogramLogReader` reads it too), one line per second and
tag set:

    #[Histogram log format version 1.3]
    #[StartTime: 1732260000.123 (seconds since epoch), 2024-11-22T07:20:00.123+00:00]
    #[BaseTime: 0.000 (seconds since epoch)]
    "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
    #[Tick: 1]
    Tag=turn_latency{protocol=native},1732260001.123,1.000,812.543,HISTFAAAA...

Values are whole microseconds (trend.py's histogram: 1 µs to 1 h, 3 significant digits);
Interval_Max is the interval's highest value in milliseconds. Timestamps are absolute (BaseTime
0), so logs of sources that started at different instants line up by wall clock. The tag is the
metric and its tag set, each part percent-encoded so that the tag holds no comma or space (the
format's separators) and reads back unambiguously; tag pairs are joined by `;`. `#[Tick: N]`
opens the lines of the store's N-th snapshot; a reader keeps only ticks that metrics.jsonl
committed (snapshots.py), so a run killed mid-write reads as of its last whole snapshot.

hdrh's own `HistogramLogWriter` cannot be used as it is: it has no tag argument, floors
Interval_Max to whole units, and its `output_start_time` raises (it calls `iso_format`). So the
lines are written here, with hdrh's histogram encoder for the payload.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Container, Iterable, Iterator
from ctypes import addressof, memset
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import compress
from typing import Any
from urllib.parse import quote, unquote

from hdrh.codec import HdrHistogramEncoder, add_array
from hdrh.histogram import HdrHistogram

from generator.metrics.series import SeriesKey, TagKey, coarse
from generator.metrics.trend import (
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_DIGITS,
    Buckets,
    add_to_histogram,
    bucket_top_us,
    counts_index,
    new_histogram,
)

LOG_FORMAT = "1.3"
LEGEND = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
_MS = 1000.0  # µs per ms: Interval_Max's unit ratio
_SAFE = "/:@!$'()*+"  # kept as they are in a tag; everything else but [A-Za-z0-9_.~-] is encoded
_START = re.compile(r"#\[StartTime: *([\d.]+)")
_BASE = re.compile(r"#\[BaseTime: *([\d.]+)")
_TICK = re.compile(r"#\[Tick: *(\d+)\]")
_COUNTS_LEN = new_histogram().counts_len
_WORD = 8  # bytes per count: hdrh's default, which new_histogram keeps


def series_tag(key: SeriesKey) -> str:
    """`name{k=v;...}` with each part percent-encoded: no comma, space, `;`, `=` or brace
    inside a part, so `parse_tag` gives back exactly ``key``."""
    name, tags = key
    head = quote(name, safe=_SAFE)
    if not tags:
        return head
    pairs = ";".join(f"{quote(k, safe=_SAFE)}={quote(v, safe=_SAFE)}" for k, v in tags)
    return head + "{" + pairs + "}"


def parse_tag(tag: str) -> SeriesKey:
    head, brace, rest = tag.partition("{")
    if not brace:
        return unquote(head), ()
    tags: TagKey = tuple(
        (unquote(k), unquote(v))
        for k, _, v in (pair.partition("=") for pair in rest.removesuffix("}").split(";"))
    )
    return unquote(head), tags


def header_lines(wall_start: float) -> list[str]:
    when = datetime.fromtimestamp(wall_start, UTC).isoformat(timespec="milliseconds")
    return [
        f"#[Histogram log format version {LOG_FORMAT}]",
        f"#[StartTime: {wall_start:.3f} (seconds since epoch), {when}]",
        "#[BaseTime: 0.000 (seconds since epoch)]",
        "#[callbench: values in microseconds, Interval_Max in milliseconds, one line per second"
        " and metric{tag=value;...}]",
        LEGEND,
    ]


def tick_line(tick: int) -> str:
    return f"#[Tick: {tick}]"


class IntervalEncoder:
    """Encodes bucket counts as an interval line, through one reused hdrh histogram (building
    one costs ~0.2 ms; clearing the cells just set, in C, is cheaper)."""

    def __init__(self) -> None:
        self._hist = new_histogram()

    def line(self, key: SeriesKey, start_s: float, counts: Buckets) -> str:
        hist = self._hist
        add_to_histogram(hist, counts)
        payload = hist.encode().decode("ascii")
        top = bucket_top_us(max(counts)) if counts else 0
        if counts:  # back to empty: the cells from the lowest to the highest one set
            low, high = counts_index(min(counts)), counts_index(max(counts))
            memset(addressof(hist.counts) + low * _WORD, 0, (high - low + 1) * _WORD)
        hist.total_count, hist.min_value, hist.max_value = 0, sys.maxsize, 0
        return f"Tag={series_tag(key)},{start_s:.3f},1.000,{top / _MS:.3f},{payload}"


class IntervalCounts:
    """One interval's histogram as decoded: hdrh's counts array, read without a Python pass
    over every cell (a busy second has thousands of buckets; reading a long run's log is
    reading millions)."""

    __slots__ = ("cells", "high", "low", "total")

    def __init__(self, cells: Any, low: int, high: int, total: int) -> None:
        self.cells, self.low, self.high, self.total = cells, low, high, total

    def buckets(self) -> Buckets:
        """Counts by bucket (its lowest value in µs), as the store counted them."""
        if not self.total:
            return {}
        part = self.cells[self.low : self.high + 1]
        return {_value_of(self.low + i): part[i] for i in compress(range(len(part)), part)}

    def series_buckets(self) -> Buckets:
        """Counts by series bucket (series.coarse): from 1,024 µs up a series bucket is eight
        consecutive cells, so they are summed eight at a time."""
        out: Buckets = {}
        if not self.total:
            return out
        cells, low, high = self.cells, self.low, self.high
        edge = min(high + 1, 1024)
        if low < edge:
            part = cells[low:edge]
            for i in compress(range(low, edge), part):
                us = coarse(i)  # below 2,048 a cell's index is its value
                out[us] = out.get(us, 0) + part[i - low]
        first = max(low, 1024) & ~7
        part = cells[first : high + 1]
        for g in range(0, len(part), 8):
            n = sum(part[g : g + 8])
            if n:
                out[_value_of(first + g)] = n
        return out

    def add_into(self, hist: HdrHistogram) -> None:
        """Adds these counts to a `new_histogram()`, cell by cell in C (hdrh's own add)."""
        if not self.total:
            return
        add_array(addressof(hist.counts), addressof(self.cells), hist.counts_len, _WORD)
        hist.total_count += self.total
        hist.min_value = min(hist.min_value, _value_of(self.low))
        hist.max_value = max(hist.max_value, _value_of(self.high))


def decode_interval(payload: str) -> IntervalCounts:
    """Decodes a payload the store wrote (its histogram's range and precision; another log's
    histogram raises ValueError)."""
    decoded = HdrHistogramEncoder.decode(payload)
    head = decoded.payload
    if (head.lowest_trackable_value, head.highest_trackable_value, head.significant_figures) != (
        LOWEST_US,
        HIGHEST_US,
        SIGNIFICANT_DIGITS,
    ):
        raise ValueError("a histogram of another range or precision")
    found = decoded.init_counts(_COUNTS_LEN)
    return IntervalCounts(
        decoded.get_counts(),
        found["min_nonzero_index"],
        found["max_nonzero_index"],
        found["total"],
    )


def _value_of(index: int) -> int:
    """The lowest value of hdrh's counts-array cell ``index`` (2,048 sub-buckets, unit 1 µs)."""
    bucket = (index >> 10) - 1
    if bucket < 0:
        return index
    return ((index & 1023) + 1024) << bucket


@dataclass(frozen=True)
class Interval:
    """One interval line read back: its tick, second (since StartTime), series and counts."""

    tick: int
    second: int
    key: SeriesKey
    counts: IntervalCounts


def read_intervals(lines: Iterable[str], ticks: Container[int] | None = None) -> Iterator[Interval]:
    """The interval lines of a log written by `IntervalEncoder` (only those of ``ticks`` when
    given), with the tick they belong to; a line that does not parse (a torn last line) is
    skipped. Decode each before taking the next: an interval holds a 190 KB counts array."""
    start = base = 0.0
    tick = 0
    for raw in lines:
        line = raw.strip()
        if line.startswith("#"):
            if found := _START.match(line):
                start = float(found.group(1))
            elif found := _BASE.match(line):
                base = float(found.group(1))
            elif found := _TICK.match(line):
                tick = int(found.group(1))
            continue
        if not line.startswith("Tag=") or (ticks is not None and tick not in ticks):
            continue  # the legend, or a snapshot never committed
        fields = line[4:].split(",")
        if len(fields) != 5:
            continue
        try:
            second = round(float(fields[1]) + base - start)
            counts = decode_interval(fields[4])
        except Exception:
            continue
        yield Interval(tick, second, parse_tag(fields[0]), counts)
