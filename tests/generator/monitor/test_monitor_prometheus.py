"""Parsing real /metrics text: the mock backend's and upstream's registries as they render."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from generator.monitor.prometheus import HistogramWindow, parse_metrics, quantile
from mocks.backend.metrics import BackendMetrics
from mocks.realtime.metrics import RealtimeMetrics


def test_backend_metrics_text_maps_to_sample_keys() -> None:
    metrics = BackendMetrics()
    metrics.active_calls.set(7)
    metrics.db_errors_total.labels(kind="too_many_connections").inc(3)
    metrics.db_errors_total.labels(kind="acquire_timeout").inc(2)
    metrics.db_errors_total.labels(kind="other").inc(1)
    metrics.upstream_errors_total.labels(kind="rate_limited").inc(4)
    metrics.upstream_errors_total.labels(kind="timeout").inc(1)
    metrics.rejected_sessions_total.inc(5)
    for seconds in (0.2, 0.2, 0.3, 0.4, 2.5):
        metrics.upstream_latency_seconds.observe(seconds)
    text = metrics.render((10, 4, 2)).decode()
    values, histograms = parse_metrics(text)
    assert values["active_calls"] == 7
    assert (values["pool_size"], values["pool_idle"], values["pool_waiting"]) == (10, 4, 2)
    assert values["db_errors_total"] == 6
    assert values["db_too_many_connections_total"] == 3
    assert values["db_acquire_timeout_total"] == 2
    assert values["upstream_errors_total"] == 5
    assert values["upstream_rate_limited_total"] == 4
    assert values["upstream_timeout_total"] == 1
    assert values["rejected_sessions_total"] == 5
    assert values["rss_bytes"] > 1_000_000
    p95 = HistogramWindow().p95_ms(histograms)["upstream_latency_p95_ms"]
    assert 2000 <= p95 <= 3000  # the 2.5 s observation sits in the (2, 3] bucket


def test_upstream_metrics_and_counters_absent_until_labelled() -> None:
    metrics = RealtimeMetrics()
    metrics.sessions_active.set(3)
    metrics.rejected("handshake_429")
    metrics.fault_fired("rate_limit")
    metrics.fault_fired("stall")
    values, _ = parse_metrics(metrics.render().decode())
    assert values["realtime_sessions_active"] == 3
    assert values["realtime_rejections_total"] == 1
    assert values["realtime_handshake_429_total"] == 1
    assert values["realtime_session_cap_total"] == 0
    assert values["realtime_rate_limited_total"] == 1
    assert values["realtime_stalls_total"] == 1
    assert values["realtime_unauthorized_total"] == 0
    assert values["realtime_session_expired_total"] == 0
    metrics.unauthorized_total.inc()
    metrics.session_ended("session_expired")
    metrics.session_ended("session_expired")
    metrics.session_ended("beta_api_shape_disabled")
    values, _ = parse_metrics(metrics.render().decode())
    assert values["realtime_unauthorized_total"] == 1
    assert values["realtime_session_ends_total"] == 3
    assert values["realtime_session_expired_total"] == 2
    assert values["realtime_beta_refused_total"] == 1
    fresh, _ = parse_metrics(BackendMetrics().render((0, 0, 0)).decode())
    assert fresh["db_too_many_connections_total"] == 0  # declared, no child yet: zero
    assert fresh["upstream_errors_total"] == 0


def test_histogram_window_reports_only_new_observations() -> None:
    registry = CollectorRegistry()
    hist = Histogram("callbench_backend_upstream_latency_seconds", "x", registry=registry,
                     buckets=(0.1, 0.5, 1, 5))  # fmt: skip
    window = HistogramWindow()
    for _ in range(50):
        hist.observe(0.05)
    first = window.p95_ms(parse_metrics(generate_latest(registry).decode())[1])
    assert first["upstream_latency_p95_ms"] <= 100
    for _ in range(10):
        hist.observe(4.0)
    second = window.p95_ms(parse_metrics(generate_latest(registry).decode())[1])
    assert second["upstream_latency_p95_ms"] > 1000  # the slow window stands out
    third = window.p95_ms(parse_metrics(generate_latest(registry).decode())[1])
    assert "upstream_latency_p95_ms" not in third  # nothing new: no figure, not a stale one


def test_quantile_interpolates_like_prometheus_and_handles_empty() -> None:
    assert quantile({0.1: 0, 1.0: 10, float("inf"): 10}, 0.5) == 0.55
    assert quantile({1.0: 0, float("inf"): 0}, 0.95) is None
    assert quantile({1.0: 0, float("inf"): 4}, 0.95) == 1.0


def test_process_metrics_fill_rss_for_foreign_targets() -> None:
    registry = CollectorRegistry()
    Counter("unrelated_total", "x", registry=registry).inc()
    text = generate_latest(registry).decode() + (
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 123456.0\n"
    )
    values, _ = parse_metrics(text)
    assert values["process_rss_bytes"] == 123456.0
