"""The thresholds grammar: parsing, errors that name the expression, evaluation on a store."""

from __future__ import annotations

import pytest

from generator.errors import InvalidInput
from generator.metrics.store import MetricsStore
from generator.metrics.thresholds import evaluate, parse_threshold, parse_thresholds


def test_parses_the_full_grammar() -> None:
    t = parse_threshold("errors_total{kind:refused, protocol:native}:count == 0")
    assert (t.metric, t.agg, t.op, t.number) == ("errors_total", "count", "==", 0.0)
    assert dict(t.tags) == {"kind": "refused", "protocol": "native"}
    p = parse_threshold("turn_latency:p(99.9)<=2500")
    assert (p.agg, p.percentile, p.op, p.number) == ("p", 99.9, "<=", 2500.0)


def test_short_forms_use_the_call_defaults() -> None:
    assert parse_threshold("p(95)<1000").metric == "turn_latency"
    assert parse_threshold("rate<0.05").metric == "call_failed"


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("turn_latency:p(95)<abc", "'abc' is not a number"),
        ("turn_latency:p(150)<3", "within 0..100"),
        ("turn_latency:median<3", "expected [METRIC"),
        ("errors_total{kind}:count==0", "must be key:value"),
        ("call_success:rate=>0.9", "expected [METRIC"),
    ],
)
def test_bad_expressions_name_the_expression(expr: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_threshold(expr)
    assert expr in str(info.value)
    assert fragment in str(info.value)


def test_scenario_map_reports_every_bad_expression() -> None:
    spec = {
        "turn_latency": [
            "p(95)<x",
            {"threshold": "avg<10", "abortOnFail": True, "delayAbortEval": "5s"},
        ],
        "call_success": ["rate>>1"],
    }
    with pytest.raises(InvalidInput) as info:
        parse_thresholds(spec)
    assert len(info.value.problems) == 2
    good = parse_thresholds(
        {"turn_latency": [{"threshold": "avg<10", "abortOnFail": True, "delayAbortEval": "5s"}]}
    )
    assert good[0].abort_on_fail
    assert good[0].delay_abort_eval_s == 5.0
    assert good[0].expr == "turn_latency:avg<10"


def test_evaluation_reads_each_metric_type() -> None:
    store = MetricsStore(clock=lambda: 0.0)
    for value in range(1, 101):
        store.add_trend("turn_latency", float(value), {"protocol": "native"}, at=value / 100)
    for ok in (True, True, True, False):
        store.add_rate("call_success", ok)
    store.add_counter("errors_total", 2, {"kind": "refused"})
    store.finish(at=2.0)
    exprs = [
        "turn_latency:p(95)<96",
        "turn_latency{protocol:twilio}:p(95)<1",
        "call_success:rate>=0.9",
        "rate<0.3",
        "errors_total{kind:refused}:count==2",
        "errors_total{kind:timeout}:count==0",
        "errors_total:rate<=1",
        "call_success:p(95)<1",
    ]
    results = evaluate(store, [parse_threshold(e) for e in exprs])
    got = {r.expr: (r.value, r.ok) for r in results}
    assert got["turn_latency:p(95)<96"][0] == pytest.approx(95.0, rel=1e-3)
    assert got["turn_latency:p(95)<96"][1] is True
    assert got["turn_latency{protocol:twilio}:p(95)<1"] == (None, False)
    assert got["call_success:rate>=0.9"] == (0.75, False)
    assert got["rate<0.3"] == (0.25, True)
    assert got["errors_total{kind:refused}:count==2"] == (2.0, True)
    assert got["errors_total{kind:timeout}:count==0"] == (0.0, True)
    assert got["errors_total:rate<=1"] == (1.0, True)
    assert got["call_success:p(95)<1"][1] is False
