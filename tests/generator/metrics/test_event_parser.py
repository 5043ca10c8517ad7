"""EventParser reads every events.jsonl line as `json.loads` would, taking its shortcut only on
the exact observation lines the store writes, whatever their tags hold."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from generator.metrics.events import EventParser, EventSink, read_events
from generator.metrics.store import MetricsStore

AWKWARD_TAGS = [
    {},
    {"t": "first"},  # a tag named t: `,"t":` also appears inside the prefix
    {"a": "1", "t": "x", "v": "y"},
    {"kind": 'quote " and ,"t": inside'},
    {"path": "/ünïcode/\\back"},
]


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)
    return bool(got == want)


def _written(tmp_path: Path) -> list[str]:
    now = [10.0]
    sink = EventSink(tmp_path / "events.jsonl", clock=lambda: now[0])
    store = MetricsStore(clock=lambda: now[0], sink=sink)
    for i, tags in enumerate(AWKWARD_TAGS):
        now[0] = 10.0 + i * 0.3 + 1e-6
        store.add_trend("turn_latency", 812.5 + i, tags)
        store.add_trend("turn_latency", 1e-3 * i, tags)
        store.add_counter("errors_total", 3, tags)
        store.add_rate("call_success", i % 2 == 0, tags)
        store.add_gauge("vus", float("inf") if i == 1 else float("-inf") if i == 2 else 2.5, tags)
    store.finish()
    sink.close()
    return (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()


def test_every_written_line_parses_as_json_loads_reads_it(tmp_path: Path) -> None:
    lines = _written(tmp_path)
    assert len(lines) == 2 + 5 * len(AWKWARD_TAGS)
    parser = EventParser()
    for line in [*lines, '{"k":"g","n":"vus","g":{},"t":1.0,"v":NaN}']:
        assert _same(parser.parse(line), json.loads(line)), line
    assert len(list(read_events(tmp_path / "events.jsonl"))) == len(lines)


def test_the_store_rebuilt_through_the_parser_equals_the_one_that_wrote(tmp_path: Path) -> None:
    lines = _written(tmp_path)
    back = MetricsStore.from_events(tmp_path / "events.jsonl")
    direct = MetricsStore(clock=lambda: 0.0)
    for line in lines:
        direct.record(json.loads(line))
    assert back.counter_by("errors_total", "kind") == direct.counter_by("errors_total", "kind")
    assert back.counter_by("errors_total", "t") == {"": 9, "first": 3, "x": 3}
    assert back.trend("turn_latency", {"t": "first"}).count == 2
    assert back.trend("turn_latency").p(99) == direct.trend("turn_latency").p(99)
    assert back.series_rows() == direct.series_rows()


def test_lines_that_are_not_observations_fall_back_to_json_loads() -> None:
    parser = EventParser()
    for line in (
        '{"k":"g","t":1.0,"n":"vus","v":3,"g":{"workload":"w"}}',  # another key order
        '{"t":1.5,"phase":"load","cpu_percent":93.0}',  # a monitor.jsonl row
        '{"k":"end","t":20.5}',
        '{"k":"t","n":"x","g":{"n":2},"t":0.5,"v":1}',  # a tag that is not a string
        '  {"k":"c","n":"iterations","g":{},"t":0.5,"v":1}  \n',
    ):
        assert parser.parse(line) == json.loads(line), line


def test_an_infinite_trend_in_a_file_is_skipped_like_any_bad_event(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"k":"t","n":"x","g":{},"t":0.5,"v":Infinity}\n{"k":"t","n":"x","g":{},"t":0.6,"v":2}\n',
        encoding="utf-8",
    )
    assert MetricsStore.from_events(path).trend("x").count == 1


def test_torn_and_empty_lines_are_skipped() -> None:
    parser = EventParser()
    for line in (
        '{"k":"t","n":"x","g":{},"t":0.7,"n"',
        '{"k":"t","n":"x","g":{},"t":0.7,"v":12',
        '{"k":"t","n":"x","g":{},"t":0.7,"v":}',
        '{"k":"t","n":"x","g":{},"t":abc,"v":1}',
        "",
        "\n",
        "[1, 2]",
    ):
        assert parser.parse(line) is None, line
