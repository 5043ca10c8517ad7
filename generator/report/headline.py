"""What a run measured and what it was judged on, in the words every report leads with.

A run's traffic is calls, HTTP requests, webhooks or held connections (its workloads' types);
each kind has its own figures, so an HTTP-only run reports requests, req/s and latency rather
than "Total calls: 0", and a connections run connections held and refused. And a run has two
verdicts that are not the same thing: whether its thresholds held (the exit code) and how ready
the target is (the zone of its performance targets, docs/diagnosis.md). A run can pass its
thresholds in the red zone, so no report calls either one just "PASS".

    shows_calls(summary) -> bool            whether the run made calls (the calls figures apply)
    traffic_blocks(summary) -> list[Block]  the figures of the other kinds of traffic it sent
    thresholds_verdict(summary) -> str      "passed (3 of 3 met)", "failed (1 of 3 not met)"
    readiness_verdict(summary) -> str | None  "red — not ready: ...", None before the verdict

Formatting only: every figure comes from the Summary (summary_model.py). Summaries written
before the connections figures existed show what their counters and rates say.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.report.summary_model import Connections, Summary

CALL_TYPES = frozenset({"calls", "call_burst"})
NONE = "—"


@dataclass(frozen=True)
class Block:
    """One kind of traffic's figures: ``rows`` of (label, value), in sentence case."""

    kind: str
    title: str
    rows: tuple[tuple[str, str], ...]


def _types(summary: Summary) -> set[str]:
    return {w.type for w in summary.workloads.values()}


def shows_calls(summary: Summary) -> bool:
    """A run with a calls workload, with calls counted, or whose workloads are not known."""
    types = _types(summary)
    return bool(types & CALL_TYPES) or summary.calls.total > 0 or not types


def _share(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f}%"


def _per_s(n: int, summary: Summary) -> str:
    return f"{n / summary.duration_s:.2f}" if summary.duration_s > 0 else NONE


def _latency(summary: Summary, metric: str) -> str:
    m = summary.metrics.get(metric)
    if m is None or not m.count:
        return NONE
    return f"p50 {m.p50:,.1f} · p95 {m.p95:,.1f} · p99 {m.p99:,.1f} ms"


def _http(summary: Summary) -> Block:
    n = summary.counters.get("http_reqs", 0)
    return Block(
        "http",
        "HTTP requests",
        (
            ("Requests", str(n)),
            ("Failed requests", _share(summary.rates.get("http_req_failed"))),
            ("Requests/s", _per_s(n, summary)),
            ("Request latency", _latency(summary, "http_req_duration")),
        ),
    )


def _webhooks(summary: Summary) -> Block:
    n = summary.counters.get("webhooks_total", 0)
    return Block(
        "webhooks",
        "Webhooks",
        (
            ("Webhooks sent", str(n)),
            ("Accepted", _share(summary.rates.get("webhook_success"))),
            ("Webhooks/s", _per_s(n, summary)),
            ("Webhook latency", _latency(summary, "webhook_duration")),
        ),
    )


def _connection_rows(c: Connections, summary: Summary) -> tuple[tuple[str, str], ...]:
    return (
        ("Connections", str(c.total)),
        ("Held to the end", str(c.held)),
        ("Failed", str(c.failed)),
        ("Refused", str(c.refused)),
        ("Peak open", str(c.peak_open)),
        ("Connections/s", _per_s(c.total, summary)),
        ("Connect time", _latency(summary, "ws_connecting")),
    )


def _connections(summary: Summary) -> Block:
    c = summary.connections
    if c is not None:
        rows = _connection_rows(c, summary)
    else:  # a summary from before the connections figures: its counter and rate
        n = summary.counters.get("ws_sessions", 0)
        rows = (
            ("Connections", str(n)),
            ("Held to the end", _share(summary.rates.get("ws_success"))),
            ("Connections/s", _per_s(n, summary)),
            ("Connect time", _latency(summary, "ws_connecting")),
        )
    return Block("connections", "Connections", rows)


def traffic_blocks(summary: Summary) -> list[Block]:
    """The figures of each kind of traffic other than calls that the run sent."""
    types = _types(summary)
    blocks = []
    if "http" in types or "http_reqs" in summary.counters:
        blocks.append(_http(summary))
    if "webhooks" in types or "webhooks_total" in summary.counters:
        blocks.append(_webhooks(summary))
    has_connections = summary.connections is not None or "ws_sessions" in summary.counters
    if "connections" in types or has_connections:
        blocks.append(_connections(summary))
    return blocks


def thresholds_verdict(summary: Summary) -> str:
    """Whether the thresholds held (``summary.passed``, the exit code), in so many words."""
    total = len(summary.thresholds)
    failed = sum(not t.ok for t in summary.thresholds)
    if summary.passed:
        return f"passed ({total} of {total} met)" if total else "passed (no thresholds)"
    if summary.status == "interrupted":
        return "failed (the run was interrupted)"
    if summary.status == "aborted":
        return f"failed (aborted by an abortOnFail threshold; {failed} of {total} not met)"
    return f"failed ({failed} of {total} not met)"


def readiness_verdict(summary: Summary) -> str | None:
    """The zone of the performance targets and what it means; None for a summary written before
    the verdict existed."""
    verdict = summary.verdict
    if verdict is None:
        return None
    return f"{verdict.zone} — {verdict.readiness}"
