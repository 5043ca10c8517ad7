"""Each diagnosis rule on hand-built evidence: firing on its own evidence, silent otherwise."""

from __future__ import annotations

from generator.diagnosis.rules import (
    RULES,
    backend_crash,
    capacity_limit,
    cpu_bottleneck,
    db_pool_exhausted,
    db_pool_starvation,
    diagnose,
    memory_leak,
    target_rate_limited,
    upstream_rate_limited,
    upstream_slow,
)
from generator.diagnosis.signals import mentions_too_many_connections
from tests.generator.diagnosis.diagnosis_builders import (
    MB,
    evidence,
    healthy_samples,
    rising_latencies,
    store,
)


def test_a_healthy_run_has_no_finding() -> None:
    assert diagnose(evidence(store(ok=100), healthy_samples())) == []
    assert diagnose(evidence(store(ok=100))) == []  # no monitor either


def test_every_rule_is_registered_with_its_runbook() -> None:
    assert set(RULES) == {
        "db_pool_exhausted",
        "db_pool_starvation",
        "memory_leak",
        "upstream_rate_limited",
        "upstream_slow",
        "capacity_limit",
        "target_rate_limited",
        "cpu_bottleneck",
        "backend_crash",
        "barge_in_ignored",
        "upstream_api_refused",
        "upstream_session_expired",
    }


def test_sqlstate_53300_in_every_postgres_wording() -> None:
    for text in (
        "FATAL: sorry, too many clients already",
        "remaining connection slots are reserved for non-replication superuser connections",
        "remaining connection slots are reserved for roles with the SUPERUSER attribute",
        "SQLSTATE 53300",
    ):
        assert mentions_too_many_connections(text), text
    assert not mentions_too_many_connections("connection refused")


# -- db_pool_exhausted -----------------------------------------------------------------------
def test_pool_exhausted_fires_on_the_backends_53300_counter() -> None:
    samples = healthy_samples(load__db_too_many_connections_total=[0, 0, 2, 5, 9, 9, 9, 9, 9, 9])
    found = db_pool_exhausted.check(evidence(store(), samples))
    assert found is not None
    assert found.rule == "db_pool_exhausted"
    assert found.runbook == "db_pool_exhausted"  # an id: the bench keeps the file
    assert "9 database errors" in found.evidence[0]


def test_pool_exhausted_fires_on_the_pg16_wording_seen_by_callers() -> None:
    message = "remaining connection slots are reserved for roles with the SUPERUSER attribute"
    s = store(ok=15, failed=5, errors=[({"kind": "server_error", "code": message}, 5)])
    found = db_pool_exhausted.check(evidence(s))
    assert found is not None
    assert "5 errors" in found.evidence[0]


def test_pool_exhausted_fires_at_the_cap_with_db_unavailable_but_not_on_either_alone() -> None:
    at_cap = healthy_samples(load__pg_cluster_total=17)
    told = {"kind": "server_error", "code": "db_unavailable"}
    unavailable = store(ok=15, failed=5, errors=[(told, 5)])
    assert db_pool_exhausted.check(evidence(unavailable, at_cap)) is not None
    assert db_pool_exhausted.check(evidence(store(), at_cap)) is None
    assert db_pool_exhausted.check(evidence(unavailable, healthy_samples())) is None
    timeouts = healthy_samples(load__db_acquire_timeout_total=[0] * 5 + [3] * 5)
    assert db_pool_exhausted.check(evidence(store(), timeouts)) is None


# -- db_pool_starvation ----------------------------------------------------------------------
def test_starvation_fires_on_acquire_timeouts() -> None:
    samples = healthy_samples(load__db_acquire_timeout_total=[0] * 5 + [3] * 5)
    found = db_pool_starvation.check(evidence(store(), samples))
    assert found is not None
    assert found.severity == "critical"
    assert "3 pool acquire timeouts" in found.evidence[0]


def test_starvation_from_waiting_needs_latency_rising_and_no_53300() -> None:
    waiting = healthy_samples(load__pool_waiting=[0, 0, 1, 2, 3, 4, 4, 5, 5, 5])
    rising = store(latencies=rising_latencies())
    found = db_pool_starvation.check(evidence(rising, waiting))
    assert found is not None
    assert found.severity == "warning"
    assert db_pool_starvation.check(evidence(store(), waiting)) is None  # flat latency
    refused = healthy_samples(
        load__pool_waiting=[0, 0, 1, 2, 3, 4, 4, 5, 5, 5],
        load__db_too_many_connections_total=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    )
    assert db_pool_starvation.check(evidence(rising, refused)) is None


# -- memory_leak -----------------------------------------------------------------------------
def test_memory_leak_fires_when_rss_stays_up_after_cooldown() -> None:
    samples = healthy_samples(load__rss_bytes=[60 * MB + i * 8 * MB for i in range(10)],
                              cool__rss_bytes=130 * MB)  # fmt: skip
    found = memory_leak.check(evidence(store(ok=100), samples))
    assert found is not None
    text = " ".join(found.evidence)
    assert "60.0 MB" in text
    assert "130.0 MB" in text
    assert "KB kept per call over 100 calls" in text


def test_memory_leak_is_silent_when_memory_recovers_or_growth_is_tiny() -> None:
    recovered = healthy_samples(load__rss_bytes=140 * MB, cool__rss_bytes=65 * MB)
    assert memory_leak.check(evidence(store(), recovered)) is None
    small = healthy_samples(base__rss_bytes=10 * MB, cool__rss_bytes=14 * MB)  # +40 %, 4 MB
    assert memory_leak.check(evidence(store(), small)) is None


def test_pool_errors_alone_do_not_fire_memory_leak() -> None:
    samples = healthy_samples(load__db_too_many_connections_total=[0, 5, 9, 9, 9, 9, 9, 9, 9, 9])
    s = store(ok=10, failed=10, errors=[({"kind": "server_error", "code": "db_unavailable"}, 10)])
    assert memory_leak.check(evidence(s, samples)) is None
    assert memory_leak.check(evidence(s)) is None


# -- upstream_rate_limited -------------------------------------------------------------------
def test_rate_limited_fires_on_calls_told_so_and_on_direct_429_handshakes() -> None:
    code = {"kind": "server_error", "code": "upstream_rate_limited"}
    told = store(ok=15, failed=5, errors=[(code, 5)])
    found = upstream_rate_limited.check(evidence(told))
    assert found is not None
    assert found.severity == "critical"
    direct = store(ok=99, failed=1, errors=[({"kind": "handshake_rejected", "status": "429"}, 1)])
    found = upstream_rate_limited.check(evidence(direct))
    assert found is not None
    assert found.severity == "warning"
    counted = healthy_samples(load__upstream_rate_limited_total=[0] * 8 + [2, 2])
    assert upstream_rate_limited.check(evidence(store(), counted)) is not None


def test_rate_limited_is_only_a_note_when_retries_absorbed_every_429() -> None:
    counted = healthy_samples(load__upstream_rate_limited_total=[0] * 5 + [7] * 5)
    found = upstream_rate_limited.check(evidence(store(ok=20), counted))
    assert found is not None
    assert found.severity == "info"
    assert "absorbed" in found.title
    assert "retries absorbed every 429" in found.evidence[-1]
    # The same 429s with one caller in 100 told: callers were hurt, a real finding.
    told = store(
        ok=99, failed=1, errors=[({"kind": "server_error", "code": "upstream_rate_limited"}, 1)]
    )
    hurt = upstream_rate_limited.check(evidence(told, counted))
    assert hurt is not None
    assert hurt.severity == "warning"


def test_rate_limited_is_silent_on_other_errors() -> None:
    s = store(ok=15, failed=5, errors=[({"kind": "handshake_rejected", "status": "503"}, 5)])
    assert upstream_rate_limited.check(evidence(s, healthy_samples())) is None


def test_target_rate_limited_fires_on_the_targets_own_429s_only() -> None:
    s = store()
    s.add_counter("webhooks_total", 90, {"workload": "w", "outcome": "rate_limited"}, at=2.0)
    s.add_counter("webhooks_total", 60, {"workload": "w", "outcome": "accepted"}, at=2.0)
    s.add_counter("webhook_429", 90, {"workload": "w"}, at=2.0)
    s.add_counter("errors_total", 90, {"workload": "w", "kind": "http_429"}, at=2.0)
    found = target_rate_limited.check(evidence(s, healthy_samples()))
    assert found is not None
    assert found.severity == "critical"
    assert found.evidence[0].startswith("90 of 150 requests")
    # The AI upstream's 429s are another rule's; this one stays silent on them.
    upstream = store(ok=15, failed=5, errors=[({"kind": "handshake_rejected", "status": "429"}, 5)])
    assert target_rate_limited.check(evidence(upstream, healthy_samples())) is None
    assert target_rate_limited.check(evidence(store(), healthy_samples())) is None


# -- upstream_slow ---------------------------------------------------------------------------
def test_upstream_slow_fires_on_backend_timeouts() -> None:
    s = store(ok=18, failed=2, errors=[({"kind": "server_error", "code": "upstream_timeout"}, 2)])
    found = upstream_slow.check(evidence(s, healthy_samples()))
    assert found is not None
    assert "timed out waiting for the AI service 2 times" in found.evidence[0]


def test_upstream_slow_fires_on_caller_timeouts_with_slow_upstream_windows() -> None:
    slow = healthy_samples(load__upstream_latency_p95_ms=[300] * 6 + [4000] * 4)
    s = store(ok=18, failed=2, errors=[({"kind": "response_timeout"}, 2)])
    assert upstream_slow.check(evidence(s, slow)) is not None
    assert upstream_slow.check(evidence(s, healthy_samples())) is None  # upstream was quick


def test_upstream_slow_is_silent_on_a_healthy_run_and_on_an_unfelt_blip() -> None:
    assert upstream_slow.check(evidence(store(), healthy_samples())) is None
    blip = healthy_samples(load__upstream_latency_p95_ms=[300] * 8 + [2500] * 2)
    assert upstream_slow.check(evidence(store(), blip)) is None  # callers' p95 stayed 400 ms


def test_upstream_slow_fires_on_direct_realtime_timeouts() -> None:
    s = store(ok=18, failed=2, errors=[({"kind": "response_timeout", "protocol": "realtime"}, 2)])
    assert upstream_slow.check(evidence(s)) is not None


# -- capacity_limit --------------------------------------------------------------------------
def test_capacity_limit_fires_on_refusals_and_rejected_sessions() -> None:
    s = store(ok=10, failed=10, errors=[({"kind": "server_capacity", "code": "1013"}, 10)])
    found = capacity_limit.check(evidence(s, healthy_samples()))
    assert found is not None
    assert "10 of 20 calls" in found.evidence[0]
    rejected = healthy_samples(load__rejected_sessions_total=[0] * 5 + [4] * 5)
    assert capacity_limit.check(evidence(store(), rejected)) is not None
    assert capacity_limit.check(evidence(store(), healthy_samples())) is None


# -- cpu_bottleneck --------------------------------------------------------------------------
def test_cpu_bottleneck_needs_a_hot_core_and_latency_rising() -> None:
    hot = healthy_samples(load__cpu_percent=[50, 70, 92, 97, 99, 99, 99, 99, 98, 99])
    found = cpu_bottleneck.check(evidence(store(latencies=rising_latencies()), hot))
    assert found is not None
    assert "peak 99 %" in found.evidence[0]
    assert cpu_bottleneck.check(evidence(store(), hot)) is None  # latency flat and low
    cool = evidence(store(latencies=rising_latencies()), healthy_samples())
    assert cpu_bottleneck.check(cool) is None


def test_cpu_bottleneck_on_a_shared_core_reads_the_loop_lag() -> None:
    """A backend starved by a neighbour: its CPU peaks under 90 %, its loop wakes late."""
    shared = healthy_samples(
        load__cpu_percent=[40, 84, 46, 65, 42, 66, 56, 77, 90, 60],
        load__loop_lag_p95_ms=[5, 80, 400, 900, 1500, 1800, 2200, 2500, 2400, 2600],
    )
    rising = store(latencies=rising_latencies(end=5400.0))
    found = cpu_bottleneck.check(evidence(rising, shared))
    assert found is not None
    assert "event loop lag p95 at or above 100 ms in 8 of 10" in found.evidence[1]
    # A late loop with a cool CPU is blocked (sleeps, sync I/O), not short of CPU.
    blocked = healthy_samples(
        load__loop_lag_p95_ms=[5, 80, 400, 900, 1500, 1800, 2200, 2500, 2400, 2600]
    )
    assert cpu_bottleneck.check(evidence(rising, blocked)) is None
    # Lag without the latency callers feel is not a finding either.
    assert cpu_bottleneck.check(evidence(store(), shared)) is None


def saturated_loop(**overrides: object) -> list[dict[str, object]]:
    """A backend whose event loop is saturated: a hot core, the pool waiting and the backend's
    view of upstream latency high, while the upstream's own latency stays 400 ms."""
    keys: dict[str, object] = {
        "load__cpu_percent": [60, 80, 95, 99, 99, 99, 99, 99, 99, 99],
        "load__pool_waiting": [0, 0, 1, 2, 3, 4, 4, 5, 5, 5],
        "load__upstream_latency_p95_ms": [300, 500, 2100, 2600, 3000, 3400, 3800, 4000, 4200, 4400],
        "load__realtime_first_delta_p95_ms": 400.0,
    }
    return healthy_samples(**{**keys, **overrides})


def test_a_saturated_loop_is_one_cause_not_three() -> None:
    s = store(latencies=rising_latencies(end=4400.0))
    alone = {r: check(evidence(s, saturated_loop())) for r, check in RULES.items()}
    # Each symptom rule, on its own, fires on what the saturated loop did to the backend's view.
    assert alone["upstream_slow"] is not None
    assert alone["db_pool_starvation"] is not None
    found = diagnose(evidence(s, saturated_loop()))
    assert [f.rule for f in found] == ["cpu_bottleneck"]
    notes = [e for e in found[0].evidence if e.startswith("explains")]
    assert [n.split(" ")[1] for n in notes] == ["upstream_slow", "db_pool_starvation"]


def test_a_slow_upstream_by_its_own_measure_is_kept_beside_the_hot_core() -> None:
    s = store(latencies=rising_latencies(end=4400.0))
    slow = saturated_loop(load__realtime_first_delta_p95_ms=[400] * 6 + [3000] * 4)
    found = [f.rule for f in diagnose(evidence(s, slow))]
    assert found == ["upstream_slow", "cpu_bottleneck"]  # starvation still folded
    # Without a hot core nothing is folded.
    cool = saturated_loop(load__cpu_percent=40.0)
    assert {"upstream_slow", "db_pool_starvation"} <= {f.rule for f in diagnose(evidence(s, cool))}


# -- backend_crash ---------------------------------------------------------------------------
def test_backend_crash_fires_when_the_backend_stops_answering() -> None:
    samples = healthy_samples(load__backend_up=[True] * 6 + [False] * 4,
                              cool__backend_up=False)  # fmt: skip
    found = backend_crash.check(evidence(store(), samples))
    assert found is not None
    assert "stopped answering at t=6.0 s" in found.evidence[0]


def test_backend_crash_fires_on_a_pid_change_or_counters_starting_over() -> None:
    assert backend_crash.check(evidence(store(), healthy_samples(cool__pid=5151))) is not None
    reset = healthy_samples(load__backend_calls_total=[0, 2, 4, 6, 0, 1, 2, 3, 4, 5])
    found = backend_crash.check(evidence(store(), reset))
    assert found is not None
    assert "backend_calls_total" in found.evidence[-1]


def test_a_busy_backend_that_answers_late_is_not_a_crash() -> None:
    busy = healthy_samples(
        load__backend_up=[True] * 6 + [False] * 4,
        load__backend_unresponsive=[False] * 6 + [True] * 4,
    )
    assert backend_crash.check(evidence(store(), busy)) is None
