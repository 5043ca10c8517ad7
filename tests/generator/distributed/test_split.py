"""Slicing load models: the slices add up to the original, seeds are per slice and stable."""

from __future__ import annotations

import pytest

from generator.distributed.split import (
    parse_slice,
    share,
    slice_seed,
    split_load,
    split_scenario,
)
from generator.errors import InvalidInput
from generator.load.arrival import slice_arrivals
from generator.load.config import parse_load
from generator.load.constant_arrival_rate import ConstantArrivalRate
from generator.load.constant_vus import ConstantVUs
from generator.load.ramping_arrival_rate import RampingArrivalRate
from generator.load.ramping_vus import RampingVUs
from generator.load.shared_iterations import SharedIterations
from generator.scenario import scenario_from_dict


@pytest.mark.parametrize(("total", "count"), [(10, 3), (7, 7), (3, 5), (0, 2), (101, 4)])
def test_shares_add_up(total: int, count: int) -> None:
    parts = [share(total, i, count) for i in range(count)]
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1


def test_constant_vus_split_exactly() -> None:
    load = ConstantVUs(vus=10, duration=5, iterations=3)
    parts = [split_load(load, i, 3) for i in range(3)]
    assert [p.vus for p in parts if isinstance(p, ConstantVUs)] == [4, 3, 3]
    assert all(isinstance(p, ConstantVUs) and p.iterations == 3 for p in parts)


def test_shared_iterations_split_exactly_and_only_to_slices_with_vus() -> None:
    load = SharedIterations(vus=2, iterations=11)
    parts = [split_load(load, i, 3) for i in range(3)]
    assert parts[2] is None
    kept = [p for p in parts if isinstance(p, SharedIterations)]
    assert sum(p.vus for p in kept) == 2
    assert sum(p.iterations for p in kept) == 11


def test_ramping_vus_targets_add_up_at_every_stage() -> None:
    load = parse_load(
        {
            "executor": "ramping-vus",
            "startVUs": 3,
            "stages": [{"duration": "10s", "target": 7}, {"duration": "5s", "target": 0}],
        }
    )
    parts = [p for p in (split_load(load, i, 2) for i in range(2)) if isinstance(p, RampingVUs)]
    assert sum(p.startVUs for p in parts) == 3
    assert [sum(p.stages[k].target for p in parts) for k in range(2)] == [7, 0]


def test_arrival_rates_split_exactly() -> None:
    load = ConstantArrivalRate(rate=30, duration=10, preAllocatedVUs=5, maxVUs=9)
    parts = [p for p in (split_load(load, i, 2) for i in range(2)) if p is not None]
    assert all(isinstance(p, ConstantArrivalRate) for p in parts)
    taken = sorted(
        arrival
        for p in parts
        if isinstance(p, ConstantArrivalRate)
        for arrival in slice_arrivals(p.offsets(), p.slice)
    )
    assert taken == list(enumerate(load.offsets()))  # the whole schedule, each arrival once
    assert len(taken) == 300
    assert sum(p.max_vus for p in parts) == 9
    ramp = parse_load(
        {
            "executor": "ramping-arrival-rate",
            "startRate": 4,
            "stages": [{"duration": "10s", "target": 20}],
            "preAllocatedVUs": 4,
        }
    )
    halves = [split_load(ramp, i, 2) for i in range(2)]
    assert all(isinstance(h, RampingArrivalRate) for h in halves)
    assert isinstance(ramp, RampingArrivalRate)
    whole = list(enumerate(ramp.offsets()))
    taken = sorted(
        arrival
        for h in halves
        if isinstance(h, RampingArrivalRate)
        for arrival in slice_arrivals(h.offsets(), h.slice)
    )
    assert taken == whole


def test_scenario_slices_get_distinct_stable_seeds() -> None:
    scenario = scenario_from_dict(
        {
            "seed": 7,
            "workloads": {
                "a": {"type": "calls", "load": {"executor": "constant-vus", "vus": 4,
                      "duration": 1}},
                "b": {"type": "calls", "load": {"executor": "constant-vus", "vus": 1,
                      "duration": 1}},
            },
        }
    )  # fmt: skip
    first, second = split_scenario(scenario, 0, 2), split_scenario(scenario, 1, 2)
    assert first is not None
    assert second is not None
    assert set(first.workloads) == {"a", "b"}
    assert set(second.workloads) == {"a"}
    assert first.seed != second.seed
    again = split_scenario(scenario, 0, 2)
    assert again is not None
    assert first.seed == slice_seed(7, 0, 2) == again.seed
    assert split_scenario(scenario, 0, 1) is scenario


def test_parse_slice_rejects_nonsense() -> None:
    assert parse_slice("1/4") == (1, 4)
    for bad in ("4/4", "x/2", "1", "-1/2", "0/0"):
        with pytest.raises(InvalidInput):
            parse_slice(bad)
