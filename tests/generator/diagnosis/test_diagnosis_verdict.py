"""The performance-targets verdict: bands, n/a rows, the worst row deciding the zone."""

from __future__ import annotations

import pytest

from generator.diagnosis.verdict import BANDS, READINESS, verdict
from tests.generator.diagnosis.diagnosis_builders import MB, evidence, healthy_samples, store


@pytest.mark.parametrize(
    ("target", "value", "zone"),
    [
        ("success_rate", 99.0, "green"),
        ("success_rate", 98.9, "yellow"),
        ("success_rate", 95.0, "yellow"),
        ("success_rate", 94.9, "red"),
        ("turn_latency_p95", 1499, "green"),
        ("turn_latency_p95", 1500, "yellow"),
        ("turn_latency_p95", 3000, "red"),
        ("cpu_peak", 69.9, "green"),
        ("cpu_peak", 84.9, "yellow"),
        ("cpu_peak", 85.0, "red"),
        ("memory_growth", 19.9, "green"),
        ("memory_growth", 49.9, "yellow"),
        ("memory_growth", 50.0, "red"),
        ("db_connections", 79.9, "green"),
        ("db_connections", 99.9, "yellow"),
        ("db_connections", 100.0, "red"),
        ("error_rate", 0.99, "green"),
        ("error_rate", 4.99, "yellow"),
        ("error_rate", 5.0, "red"),
    ],
)
def test_bands(target: str, value: float, zone: str) -> None:
    assert BANDS[target].zone(value) == zone


def test_healthy_monitored_run_is_green_on_every_row() -> None:
    ev = evidence(store(ok=100), healthy_samples())
    v = verdict(ev.store, ev.monitor)
    zones = {r.target: (r.zone, r.value) for r in v.rows}
    assert zones == {
        "success_rate": ("green", 100.0),
        "turn_latency_p95": ("green", pytest.approx(400, rel=0.01)),
        "cpu_peak": ("green", 45.0),
        "memory_growth": ("green", 0.0),
        "db_connections": ("green", pytest.approx(6 / 17 * 100, abs=0.01)),
        "error_rate": ("green", 0.0),
    }
    assert {r.unit for r in v.rows} == {"%", "ms"}  # as summary.json writes them, unpadded
    assert v.zone == "green"
    assert v.readiness == READINESS["green"] == "ready for production load at this level"


def test_rows_without_data_are_na_not_green() -> None:
    v = verdict(store(ok=100), evidence().monitor)
    zones = {r.target: r.zone for r in v.rows}
    assert zones["cpu_peak"] == zones["memory_growth"] == zones["db_connections"] == "n/a"
    assert all(r.reason.startswith("no data") for r in v.rows if r.zone == "n/a")
    assert v.zone == "green"
    empty = verdict(store(ok=0, latencies=[]), evidence().monitor)
    assert empty.zone == "n/a"
    assert "no verdict" in empty.readiness


def test_the_worst_row_decides() -> None:
    s = store(ok=97, failed=3, errors=[({"kind": "response_timeout"}, 3)])
    ev = evidence(s, healthy_samples(cool__rss_bytes=100 * MB))
    v = verdict(ev.store, ev.monitor)
    zones = {r.target: r.zone for r in v.rows}
    assert zones["success_rate"] == "yellow"
    assert zones["error_rate"] == "yellow"
    assert zones["memory_growth"] == "red"  # 60 MB → 100 MB after cooldown: +67 %
    assert v.zone == "red"
    assert v.readiness == "not ready: fix the red rows first"
