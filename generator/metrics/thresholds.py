"""Thresholds: pass/fail criteria over the metrics store, in k6's grammar.

Grammar (one expression; several may apply to a run)::

    threshold := [ METRIC [ "{" TAG ("," TAG)* "}" ] ":" ] AGG OP NUMBER
    TAG       := KEY ":" VALUE                      e.g. {kind:refused,protocol:native}
    AGG       := "avg" | "min" | "max" | "med" | "p(" NUMBER ")"   for trends (milliseconds)
               | "rate"                             for rates (passes / total, 0..1)
               | "count" | "rate"                   for counters (total; total per second)
    OP        := "<" | "<=" | ">" | ">=" | "==" | "!="

Examples: `turn_latency:p(95)<2000`, `call_success:rate>=0.9`,
`errors_total{kind:refused}:count==0`. Without METRIC the command's defaults apply (for calls:
trend aggregations read `turn_latency`, `rate` reads `call_failed`, `count` reads `errors_total`),
so the short forms `p(95)<1000` and `rate<0.05` of DESIGN.md work.

A rate `X_failed` that was never recorded is read as 1 - `X_success` (so `call_failed` exists
whenever `call_success` does). A counter that was never recorded counts 0; a trend or rate with no
data fails its threshold (value null) — no evidence is not a pass.

In scenario files, thresholds follow k6: a map from metric to a list of expressions, each either
a string (`"p(95)<2000"`) or `{threshold: "...", abortOnFail: true, delayAbortEval: "10s"}`;
abortOnFail stops the run as soon as the threshold fails (after delayAbortEval of run time).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from generator.errors import InvalidInput
from generator.load.durations import parse_duration
from generator.metrics.store import MetricsStore

TREND_AGGS = ("avg", "min", "max", "med")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
CALL_DEFAULTS: Mapping[str, str] = {
    "trend": "turn_latency",
    "rate": "call_failed",
    "count": "errors_total",
}
DEFAULT_CALL_THRESHOLDS = ("call_success:rate>=0.9",)

_EXPR = re.compile(
    r"""^\s*
    (?:(?P<metric>[A-Za-z_][\w.-]*)\s*(?:\{(?P<tags>[^}]*)\})?\s*:)?\s*
    (?P<agg>avg|min|max|med|count|rate|p\(\s*(?P<pct>[^)]*?)\s*\))\s*
    (?P<op><=|>=|==|!=|<|>)\s*
    (?P<number>\S+)\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Threshold:
    expr: str
    metric: str
    agg: str  # avg|min|max|med|count|rate|p
    op: str
    number: float
    percentile: float | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    abort_on_fail: bool = False
    delay_abort_eval_s: float = 0.0

    @property
    def kind(self) -> str:
        """Which type of metric the aggregation reads."""
        return self.agg if self.agg in ("rate", "count") else "trend"


@dataclass(frozen=True)
class ThresholdResult:
    expr: str
    value: float | None
    ok: bool
    note: str = ""


def parse_threshold(
    expr: str, defaults: Mapping[str, str] = CALL_DEFAULTS, *, metric: str | None = None
) -> Threshold:
    """Parses one expression; ``metric`` comes from a scenario file's map key."""
    problems = _problems(expr, metric)
    if problems:
        raise InvalidInput(f"threshold {expr!r}", problems)
    match = _EXPR.match(expr)
    assert match is not None
    agg = match["agg"]
    pct = float(match["pct"]) if agg.startswith("p(") else None
    agg = "p" if pct is not None else agg
    kind = agg if agg in ("rate", "count") else "trend"
    name = match["metric"] or metric or defaults.get(kind, "")
    return Threshold(
        expr=expr.strip() if metric is None else f"{metric}:{expr.strip()}",
        metric=name,
        agg=agg,
        op=match["op"],
        number=float(match["number"]),
        percentile=pct,
        tags=_tags(match["tags"] or ""),
    )


def _problems(expr: str, metric: str | None) -> list[str]:
    match = _EXPR.match(expr)
    if match is None:
        return [
            "expected [METRIC[{tag:value}]:]AGG OP NUMBER, e.g. turn_latency:p(95)<2000 "
            "(AGG: avg|min|max|med|p(N)|rate|count; OP: < <= > >= == !=)"
        ]
    problems = []
    if match["metric"] and metric:
        problems.append(f"names metric {match['metric']!r} inside the list of {metric!r}")
    if match["agg"].startswith("p("):
        try:
            pct = float(match["pct"])
            if not 0 <= pct <= 100:
                problems.append(f"percentile {match['pct']} must be within 0..100")
        except ValueError:
            problems.append(f"percentile {match['pct']!r} is not a number")
    try:
        float(match["number"])
    except ValueError:
        problems.append(f"{match['number']!r} is not a number")
    if match["tags"] is not None:
        for part in match["tags"].split(","):
            if part.strip().count(":") != 1 or not all(s.strip() for s in part.split(":")):
                problems.append(f"tag {part.strip()!r} must be key:value")
    return problems


def _tags(text: str) -> dict[str, str]:
    pairs = (part.split(":") for part in text.split(",") if part.strip())
    return {k.strip(): v.strip() for k, v in pairs}


def parse_thresholds(
    spec: Any, defaults: Mapping[str, str] = CALL_DEFAULTS, where: str = "thresholds"
) -> list[Threshold]:
    """Parses a scenario file's thresholds (a k6 map, or a list of full expressions),
    reporting every bad expression at once."""
    entries: list[tuple[str | None, Any]] = []
    if isinstance(spec, Mapping):
        for metric, items in spec.items():
            for item in items if isinstance(items, list) else [items]:
                entries.append((str(metric), item))
    elif isinstance(spec, list):
        entries = [(None, item) for item in spec]
    elif spec is not None:
        raise InvalidInput(where, ["must be a map of metric to expressions, or a list"])
    found, problems = [], []
    for metric, item in entries:
        try:
            found.append(_entry(metric, item, defaults))
        except InvalidInput as exc:
            problems.append(str(exc).removeprefix("invalid "))
    if problems:
        raise InvalidInput(where, problems)
    return found


def _entry(metric: str | None, item: Any, defaults: Mapping[str, str]) -> Threshold:
    if isinstance(item, str):
        return parse_threshold(item, defaults, metric=metric)
    if not isinstance(item, Mapping) or not isinstance(item.get("threshold"), str):
        raise InvalidInput(f"threshold {item!r}", ["must be a string or {threshold: ...}"])
    unknown = set(item) - {"threshold", "abortOnFail", "delayAbortEval"}
    if unknown:
        raise InvalidInput(f"threshold {item['threshold']!r}", [f"unknown keys {sorted(unknown)}"])
    parsed = parse_threshold(item["threshold"], defaults, metric=metric)
    try:
        delay = parse_duration(item.get("delayAbortEval", 0))
    except ValueError as exc:
        raise InvalidInput(f"threshold {parsed.expr!r}", [f"delayAbortEval: {exc}"]) from None
    return Threshold(
        **{
            **parsed.__dict__,
            "abort_on_fail": bool(item.get("abortOnFail", False)),
            "delay_abort_eval_s": delay,
        }
    )


def evaluate(store: MetricsStore, thresholds: list[Threshold]) -> list[ThresholdResult]:
    return [evaluate_one(store, t) for t in thresholds]


def evaluate_one(store: MetricsStore, t: Threshold) -> ThresholdResult:
    value, note = _value(store, t)
    if value is None:
        return ThresholdResult(t.expr, None, False, note or "no data")
    return ThresholdResult(t.expr, value, OPS[t.op](value, t.number), note)


def _value(store: MetricsStore, t: Threshold) -> tuple[float | None, str]:
    kinds = store.metric_names()
    kind = kinds.get(t.metric)
    if kind is None and t.agg == "rate" and t.metric.endswith("_failed"):
        success = t.metric.removesuffix("_failed") + "_success"
        if kinds.get(success) == "rate":
            stats = store.rate(success, t.tags)
            return (1.0 - stats.rate if stats.total else None), ""
    if kind is None:
        return (0.0, "") if t.agg == "count" else (None, f"no data for {t.metric}")
    if kind == "counter":
        n = store.counter(t.metric, t.tags)
        if t.agg == "count":
            return float(n), ""
        if t.agg == "rate":
            elapsed = store.elapsed()
            return (n / elapsed if elapsed > 0 else 0.0), ""
    elif kind == "rate" and t.agg == "rate":
        stats = store.rate(t.metric, t.tags)
        return (stats.rate if stats.total else None), ""
    elif kind == "trend" and t.agg != "rate":
        trend = store.trend(t.metric, t.tags)
        if t.agg == "count":
            return float(trend.count), ""
        if trend.count == 0:
            return None, f"no data for {t.metric}"
        if t.agg == "p":
            return trend.p(t.percentile or 0.0), ""
        return float(getattr(trend, t.agg)), ""
    return None, f"{t.metric} is a {kind}: {t.agg} does not apply"
