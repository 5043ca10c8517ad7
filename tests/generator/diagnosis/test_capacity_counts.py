"""capacity_limit's evidence counts what was refused against what its workload opened: calls for
the calls workload, connections for the connections workload (a connections run once read
"14263 of 0 calls were refused")."""

from __future__ import annotations

from generator.diagnosis.rules import capacity_limit
from generator.metrics.store import MetricsStore
from tests.generator.diagnosis.diagnosis_builders import evidence, healthy_samples, store
from tests.support.clock import FakeClock


def connections_store(held: int, refused: int, workload: str = "visitors") -> MetricsStore:
    """A connections run's counters, as generator/workloads/connections.py records them."""
    s = MetricsStore(clock=FakeClock())
    tags = {"workload": workload}
    for i in range(held + refused):
        ok = i < held
        s.add_counter("ws_sessions", 1, {**tags, "outcome": "ok" if ok else "failed"}, at=0.5)
        s.add_rate("ws_success", ok, tags, at=0.5)
        if not ok:
            error = {"kind": "server_capacity", "code": "1013", **tags}
            s.add_counter("errors_total", 1, error, at=0.5)
    s.finish(at=2.0)
    return s


def test_a_connections_run_counts_refused_connections() -> None:
    found = capacity_limit.check(evidence(connections_store(held=7, refused=5), healthy_samples()))
    assert found is not None
    assert found.evidence[0] == "5 of 12 connections were refused for capacity (close 1013/1008)"
    assert not any("calls were refused" in line for line in found.evidence)


def test_a_calls_run_still_counts_calls() -> None:
    s = store(ok=6, failed=4, errors=[({"kind": "server_capacity", "code": "1013"}, 4)])
    assert capacity_limit.refusal_lines(s) == [
        "4 of 10 calls were refused for capacity (close 1013/1008)"
    ]


def test_a_mixed_run_counts_each_against_its_own_workload() -> None:
    s = store(ok=3, failed=2, errors=[({"kind": "server_capacity", "code": "1008"}, 2)])
    other = connections_store(held=1, refused=3)
    s.merge(other)
    assert capacity_limit.refusal_lines(s) == [
        "2 of 5 calls were refused for capacity (close 1013/1008)",
        "3 of 4 connections were refused for capacity (close 1013/1008)",
    ]
