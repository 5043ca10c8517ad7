"""Reports that say what they measured (generator/report/headline.py): an HTTP-only run reports
its requests, a connections run its connections held and refused, neither "Total calls: 0"; the
thresholds' verdict and the readiness zone are each named as what they are, in the terminal
block, report.md and the HTML header; the connections figures round-trip through summary.json
and a summary written before them still shows its connection counters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from generator.metrics.store import MetricsStore
from generator.metrics.thresholds import evaluate, parse_threshold
from generator.report.html_sections import header
from generator.report.markdown import render_markdown
from generator.report.summary import build_summary, live_figures
from generator.report.summary_model import Summary
from generator.report.terminal import render_progress, render_terminal
from tests.support.clock import FakeClock


def meta(kind: str) -> dict[str, Any]:
    return {
        "name": f"{kind}-run",
        "status": "completed",
        "workloads": {"w": {"type": kind, "executor": "constant-vus", "max_vus": 3}},
        "scenario": {},
    }


def http_store(requests: int, failures: int) -> MetricsStore:
    """What generator/workloads/http.py records per request, over four seconds."""
    s = MetricsStore(clock=FakeClock())
    tags = {"workload": "w", "endpoint": "GET /"}
    for i in range(requests):
        at, failed = (i % 4) + 0.5, i < failures
        s.add_counter("http_reqs", 1, tags, at=at)
        s.add_trend("http_req_duration", 2.0 + i % 5, tags, at=at)
        s.add_rate("http_req_failed", failed, tags, at=at)
        if failed:
            s.add_counter("errors_total", 1, {**tags, "kind": "http_503"}, at=at)
        s.add_counter("iterations", 1, {"workload": "w"}, at=at)
    s.finish(at=4.0)
    return s


def connections_store(held: int, refused: int, dropped: int) -> MetricsStore:
    """What generator/workloads/connections.py records: refused (1013) and dropped (1011)
    connections are both failed, only the refused ones are capacity refusals."""
    s = MetricsStore(clock=FakeClock())
    tags = {"workload": "w"}
    opened = 0
    for i in range(held + refused + dropped):
        at = (i % 2) + 0.5
        ok = i < held
        if i < held + dropped:
            opened += 1
            s.add_gauge("ws_open", float(opened), tags, at=at)
            s.add_trend("ws_connecting", 5.0, tags, at=at)
        s.add_counter("ws_sessions", 1, {**tags, "outcome": "ok" if ok else "failed"}, at=at)
        s.add_rate("ws_success", ok, tags, at=at)
        if i >= held + dropped:
            s.add_counter("errors_total", 1, {**tags, "kind": "server_capacity"}, at=at)
        elif not ok:
            s.add_counter("errors_total", 1, {**tags, "kind": "closed", "code": "1011"}, at=at)
        s.add_counter("iterations", 1, tags, at=at)
    s.finish(at=2.0)
    return s


def test_an_http_run_reports_requests_not_calls() -> None:
    store = http_store(requests=40, failures=4)
    summary = build_summary(store, [], meta("http"))
    text = render_terminal(summary)
    assert "Total calls" not in text
    assert "Calls/s" not in text
    assert "Requests:           40\n" in text
    assert "Failed requests:    10.0%\n" in text
    assert f"Requests/s:         {40 / summary.duration_s:.2f}\n" in text
    p95 = summary.metrics["http_req_duration"].p95
    assert f"Request latency:    p50 {summary.metrics['http_req_duration'].p50:,.1f}" in text
    assert f"p95 {p95:,.1f}" in text
    md = render_markdown(summary)
    assert "| requests | 40 |" in md
    assert "total calls" not in md
    html = header(summary)
    assert "http requests" in html
    assert "requests 40" in html
    assert "calls</td>" not in html


def test_a_connections_run_reports_connections_held_and_refused() -> None:
    store = connections_store(held=7, refused=5, dropped=2)
    summary = build_summary(store, [], meta("connections"))
    assert summary.connections is not None
    c = summary.connections
    assert (c.total, c.held, c.failed, c.refused) == (14, 7, 7, 5)
    assert c.peak_open == 9  # the gauge's highest value: every connection that opened
    text = render_terminal(summary)
    assert "Total calls" not in text
    for line in (
        "Connections:        14",
        "Held to the end:    7",
        "Failed:             7",
        "Refused:            5",
        "Peak open:          9",
    ):
        assert line + "\n" in text, line
    # the capacity finding counts connections too
    assert "5 of 14 connections were refused for capacity" in text
    assert "of 0 calls" not in text
    md = render_markdown(summary)
    assert "| held to the end | 7 |" in md
    assert "| refused | 5 |" in md


def test_the_connections_figures_round_trip_and_old_summaries_still_show_them() -> None:
    summary = build_summary(
        connections_store(held=3, refused=1, dropped=0), [], meta("connections")
    )
    data = summary.to_json()
    keys = list(data)
    assert keys[keys.index("vus_max") + 1] == "connections"
    assert Summary.from_json(json.loads(summary.dumps())) == summary
    del data["connections"]  # a summary written before the figures existed
    old = Summary.from_json(data)
    assert old.connections is None
    assert "connections" not in old.to_json()
    text = render_terminal(old)
    assert "Connections:        4\n" in text
    assert "Held to the end:    75.0%\n" in text  # its ws_success rate, all it holds


def calls_store(ok: int, failed: int) -> MetricsStore:
    s = MetricsStore(clock=FakeClock())
    tags = {"workload": "w", "protocol": "native"}
    for i in range(ok + failed):
        at = (i % 4) + 0.5
        outcome = "succeeded" if i < ok else "failed"
        s.add_counter("calls_total", 1, {**tags, "outcome": outcome}, at=at)
        s.add_rate("call_success", i < ok, tags, at=at)
        s.add_counter("iterations", 1, {"workload": "w"}, at=at)
        s.add_trend("turn_latency", 300.0, tags, at=at)
    s.finish(at=4.0)
    return s


def test_passing_thresholds_in_the_red_zone_say_both_verdicts(tmp_path: Path) -> None:
    store = calls_store(ok=16, failed=4)  # 80 % success: the red zone
    results = evaluate(store, [parse_threshold("turn_latency:p(95)<5000")])
    summary = build_summary(store, results, meta("calls"))
    assert summary.passed
    assert summary.zone == "red"
    text = render_terminal(summary)
    assert "PASS" not in text
    assert "THRESHOLDS: passed (1 of 1 met)\n" in text
    assert "READINESS:  red — not ready" in text
    md = render_markdown(summary)
    assert "**Thresholds: passed (1 of 1 met)** · **Readiness: zone red**" in md
    html = header(summary)
    assert "PASS" not in html
    assert "thresholds: passed (1 of 1 met)</span>" in html
    assert "readiness: red</span>" in html
    assert "Total calls:        20\n" in text  # a calls run keeps its calls figures


def test_failed_and_aborted_thresholds_say_so() -> None:
    store = calls_store(ok=20, failed=0)
    results = evaluate(
        store, [parse_threshold("turn_latency:p(95)<100"), parse_threshold("call_success:rate>0.5")]
    )
    summary = build_summary(store, results, meta("calls"))
    assert "THRESHOLDS: failed (1 of 2 not met)" in render_terminal(summary)
    aborted = build_summary(store, results, {**meta("calls"), "status": "aborted"})
    assert "aborted by an abortOnFail threshold" in render_terminal(aborted)


def test_the_progress_line_shows_each_runs_own_traffic() -> None:
    http = render_progress(live_figures(http_store(requests=40, failures=4), vus=2))
    assert "requests 40" in http
    assert "calls" not in http
    assert "req p95 " in http
    assert "req p95 -" not in http
    connections = render_progress(live_figures(connections_store(3, 1, 1), vus=5))
    assert "connections open 4 ended 5" in connections  # the gauge's last value: 4 opened
    assert "calls" not in connections
    assert "connect p95 5ms" in connections
