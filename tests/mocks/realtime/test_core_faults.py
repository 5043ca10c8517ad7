"""Fault configs and their seeded draws: validation with every problem at once, distributions,
probabilities within binomial bounds, and draws that do not shift when other faults change."""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path

import pytest

from mocks.errors import ConfigError
from mocks.faults import FixedDelay, LogNormalDelay, NormalDelay, UniformDelay, roll
from mocks.realtime.faults import REGISTRY, FaultsConfig, Stall, load_faults, parse_faults
from mocks.realtime.faults.base import FaultStreams
from mocks.realtime.faults.plan import draw_response_plan
from tests.mocks.realtime.realtime_helpers import MANUAL_TURNS, Driver


def within_binomial(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p))


REQUIRED = {
    "latency": {"distribution": "fixed", "ms": 1},
    "session_cap": {"max_sessions": 1},
    "session_max_duration": {"seconds": 1},
}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_fault_of_the_registry_is_a_section_of_the_document(name: str) -> None:
    faults = parse_faults({name: REQUIRED.get(name, {})})
    assert faults.get(REGISTRY[name]) is not None
    assert parse_faults(faults.to_document()) == faults
    assert FaultsConfig().get(REGISTRY[name]) is None


def test_a_section_no_fault_has_is_refused() -> None:
    with pytest.raises(ConfigError, match="not_a_fault"):
        parse_faults({"not_a_fault": {}})


def test_all_problems_are_reported_at_once() -> None:
    bad = {
        "latency": {"distribution": "uniform", "min_ms": 500, "max_ms": 100},
        "rate_limit": {"probability": 1.5},
        "drop": {"probability": 0.1, "mode": "explode"},
        "slow_audio": {"factor": 0.5},
        "teleport": {"probability": 1},
    }
    with pytest.raises(ConfigError) as info:
        parse_faults(bad)
    text = "; ".join(info.value.problems)
    for where in ("latency", "rate_limit", "drop", "slow_audio", "teleport"):
        assert where in text
    assert len(info.value.problems) >= 5


def test_faults_file_json_and_yaml(tmp_path: Path) -> None:
    doc = {"latency": {"distribution": "lognormal", "median_ms": 400, "sigma": 0.5}}
    (tmp_path / "f.json").write_text(json.dumps(doc))
    (tmp_path / "f.yaml").write_text("stall:\n  probability: 0.2\n")
    assert load_faults(tmp_path / "f.json").to_document()["latency"]["median_ms"] == 400
    assert load_faults(tmp_path / "f.yaml").get(Stall) is not None
    (tmp_path / "bad.yaml").write_text("stall:\n  probability: 2\nslow_audio: {factor: 0}\n")
    with pytest.raises(ConfigError) as info:
        load_faults(tmp_path / "bad.yaml")
    assert "bad.yaml" in str(info.value)
    assert len(info.value.problems) == 2
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_faults(tmp_path / "missing.yaml")


def test_distributions() -> None:
    rng = random.Random(3)
    assert FixedDelay(ms=300).sample_ms(rng) == 300
    uniform = [UniformDelay(min_ms=100, max_ms=200).sample_ms(rng) for _ in range(500)]
    assert 100 <= min(uniform) <= max(uniform) <= 200
    normal = [NormalDelay(mean_ms=50, stddev_ms=100).sample_ms(rng) for _ in range(500)]
    assert min(normal) == 0  # clamped, never negative
    lognormal = [LogNormalDelay(median_ms=400, sigma=0.5).sample_ms(rng) for _ in range(2000)]
    assert statistics.median(lognormal) == pytest.approx(400, rel=0.1)


def test_roll_always_consumes_one_draw() -> None:
    a, b = random.Random(5), random.Random(5)
    roll(a, 0.0)
    roll(b, 1.0)
    assert a.random() == b.random()


@pytest.mark.parametrize("kind", ["rate_limit", "stall", "drop", "slow_audio"])
def test_each_response_fault_fires_at_its_probability(kind: str) -> None:
    n, p = 200, 0.3
    faults = parse_faults({kind: {"probability": p}})
    rng = FaultStreams(random.Random(2024))
    fired = sum(kind in draw_response_plan(faults, rng).fired for _ in range(n))
    assert within_binomial(fired, n, p), fired


def test_latency_fires_at_its_probability_with_its_distribution() -> None:
    n, p = 200, 0.3
    faults = parse_faults({"latency": {"distribution": "fixed", "ms": 250, "probability": p}})
    rng = FaultStreams(random.Random(7))
    plans = [draw_response_plan(faults, rng) for _ in range(n)]
    fired = [plan for plan in plans if "latency" in plan.fired]
    assert within_binomial(len(fired), n, p)
    assert {plan.latency_ms for plan in fired} == {250}
    assert {plan.latency_ms for plan in plans if plan not in fired} == {0}


def test_rate_limit_in_sessions_fails_responses_at_its_probability() -> None:
    """200 responses through the state machine itself, counted from what it sent."""
    d = Driver({"rate_limit": {"probability": 0.3}}, seed=99)
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    for _ in range(200):
        d.send({"type": "response.create"})
        d.run_idle()
    statuses = [e["response"]["status"] for e in d.events("response.done")]
    assert len(statuses) == 200
    assert within_binomial(statuses.count("failed"), 200, 0.3)
    assert statuses.count("failed") + statuses.count("completed") == 200


def test_switching_one_fault_on_does_not_shift_the_others() -> None:
    stall_only = parse_faults({"stall": {"probability": 0.3}})
    stall_and_slow = parse_faults(
        {"stall": {"probability": 0.3}, "slow_audio": {"probability": 0.5}}
    )
    a, b = FaultStreams(random.Random(1)), FaultStreams(random.Random(1))
    stalls_a = ["stall" in draw_response_plan(stall_only, a).fired for _ in range(100)]
    stalls_b = ["stall" in draw_response_plan(stall_and_slow, b).fired for _ in range(100)]
    assert stalls_a == stalls_b


def test_same_seed_same_plans() -> None:
    faults = parse_faults(
        {
            "latency": {"distribution": "lognormal", "median_ms": 300, "sigma": 0.6},
            "drop": {"probability": 0.2, "mode": "reset"},
            "slow_audio": {"probability": 0.2, "factor": 1.5},
        }
    )
    a, b, c = (FaultStreams(random.Random(s)) for s in (8, 8, 9))
    plans_a = [draw_response_plan(faults, a) for _ in range(50)]
    assert plans_a == [draw_response_plan(faults, b) for _ in range(50)]
    assert plans_a != [draw_response_plan(faults, c) for _ in range(50)]
