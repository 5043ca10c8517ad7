"""Load models: pure schedules, fake-clock runs (arrival rates drop, never delay), real-clock
runs of the closed models, and config validation that reports every problem."""

from __future__ import annotations

import asyncio
import math

import pytest

from generator.errors import InvalidInput
from generator.load.arrival import ramp_offsets
from generator.load.base import LoadRun, Timeline
from generator.load.config import parse_load
from generator.load.constant_arrival_rate import ConstantArrivalRate
from generator.load.constant_vus import ConstantVUs
from generator.load.ramping_vus import RampingVUs
from generator.load.shared_iterations import SharedIterations
from generator.metrics.store import MetricsStore


class FakeTime:
    """A clock that only moves when the (single) sleeper sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def test_constant_rate_schedule_is_evenly_spaced() -> None:
    got = list(
        ConstantArrivalRate.model_validate(
            {"rate": 30, "timeUnit": "1m", "duration": "4s", "preAllocatedVUs": 1}
        ).offsets()
    )
    assert got == pytest.approx([0.0, 2.0])  # 30 per minute = one every 2 s
    assert list(ramp_offsets(10, [(1.0, 10)])) == pytest.approx([i / 10 for i in range(10)])


def test_ramping_rate_schedule_follows_the_integral() -> None:
    got = list(ramp_offsets(0.0, [(2.0, 10.0)]))  # N(t) = 2.5 t², 10 arrivals in 2 s
    assert len(got) == 10
    assert got == pytest.approx([math.sqrt(i / 2.5) for i in range(10)])


def test_ramping_vus_target_is_a_function_of_time() -> None:
    model = RampingVUs.model_validate(
        {
            "startVUs": 0,
            "stages": [{"duration": "10s", "target": 10}, {"duration": "5s", "target": 0}],
        }
    )
    assert [model.target_at(t) for t in (0, 5, 9.99, 10, 12.5, 15, 99)] == [0, 5, 9, 10, 5, 0, 0]
    assert model.max_vus == 10


async def test_arrival_rate_drops_iterations_when_vus_run_out() -> None:
    fake = FakeTime()
    store = MetricsStore(clock=fake.clock)
    release = asyncio.Event()
    starts: list[tuple[int, float]] = []

    async def body(vu: int, iteration: int, intended: float) -> None:
        starts.append((vu, intended))
        await release.wait()  # the target never answers: VUs stay busy

    run = LoadRun(body, store, "calls", Timeline(fake.clock, fake.sleep))
    model = ConstantArrivalRate(rate=10, duration=1, preAllocatedVUs=1, maxVUs=2, gracefulStop=0)
    await model.execute(run)
    assert [vu for vu, _ in starts] == [0, 1]
    assert [t - 1000.0 for _, t in starts] == pytest.approx([0.0, 0.1])  # scheduled, not actual
    assert store.counter("dropped_iterations", {"workload": "calls"}) == 8
    assert run.vus == 0  # the busy iterations were cancelled at the end


async def test_arrival_rate_reuses_free_vus() -> None:
    fake = FakeTime()
    store = MetricsStore(clock=fake.clock)
    seen: list[int] = []

    async def body(vu: int, iteration: int, intended: float) -> None:
        seen.append(vu)

    run = LoadRun(body, store, "calls", Timeline(fake.clock, fake.sleep))
    await ConstantArrivalRate(rate=20, duration=1, preAllocatedVUs=1).execute(run)
    assert len(seen) == 20
    assert set(seen) == {0}
    assert store.counter("dropped_iterations") == 0


async def test_shared_iterations_runs_exactly_n_on_at_most_vus() -> None:
    store = MetricsStore()
    active, peak, vus = 0, 0, set()

    async def body(vu: int, iteration: int, intended: float) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        vus.add(vu)
        await asyncio.sleep(0.01)
        active -= 1

    run = LoadRun(body, store, "calls")
    await SharedIterations(vus=3, iterations=7).execute(run)
    assert run.started == 7
    assert peak == 3
    assert vus == {0, 1, 2}


async def test_constant_vus_by_iterations_and_by_duration() -> None:
    store = MetricsStore()
    calls: list[int] = []

    async def body(vu: int, iteration: int, intended: float) -> None:
        calls.append(vu)
        await asyncio.sleep(0.05)

    await ConstantVUs(vus=2, iterations=3).execute(LoadRun(body, store, "calls"))
    assert sorted(calls) == [0, 0, 0, 1, 1, 1]
    calls.clear()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await ConstantVUs(vus=1, duration=0.3).execute(LoadRun(body, store, "calls"))
    assert 0.25 < loop.time() - began < 1.5
    assert 3 <= len(calls) <= 7


async def test_ramping_vus_never_exceeds_the_target() -> None:
    store = MetricsStore()
    active, peak = 0, 0

    async def body(vu: int, iteration: int, intended: float) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1

    model = RampingVUs.model_validate(
        {"stages": [{"duration": "0.3s", "target": 4}, {"duration": "0.3s", "target": 4}]}
    )
    run = LoadRun(body, store, "calls")
    await model.execute(run)
    assert peak == 4
    assert run.started > 10


async def test_stop_event_ends_an_open_model_early() -> None:
    store = MetricsStore()
    run = LoadRun(lambda vu, i, t: asyncio.sleep(0), store, "calls")
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, run.stop.set)
    began = loop.time()
    await ConstantArrivalRate(rate=10, duration=30, preAllocatedVUs=2).execute(run)
    assert loop.time() - began < 2


def test_validation_reports_every_problem_at_once() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_load(
            {
                "executor": "constant-arrival-rate",
                "rate": -1,
                "duration": "abc",
                "preAllocatedVUs": 0,
                "bogus": 1,
            }
        )
    text = str(info.value)
    assert len(info.value.problems) >= 4
    for fragment in ("rate", "duration", "preAllocatedVUs", "bogus"):
        assert fragment in text
    with pytest.raises(InvalidInput, match="executor must be one of"):
        parse_load({"executor": "per-vu-iterations"})
    with pytest.raises(InvalidInput, match="needs duration or iterations"):
        parse_load({"executor": "constant-vus", "vus": 1})


@pytest.mark.parametrize(
    "load",
    [
        {"executor": "constant-arrival-rate", "rate": 2, "duration": "2s", "preAllocatedVUs": 1},
        {
            "executor": "ramping-arrival-rate",
            "stages": [{"duration": "2s", "target": 2}],
            "preAllocatedVUs": 1,
            "timeUnit": "1s",
        },
        {"executor": "constant-vus", "vus": 1, "duration": "1s"},
    ],
)
def test_graceful_stop_takes_a_duration_in_every_model(load: dict[str, object]) -> None:
    # A model's own duration validator must not replace the shared one for gracefulStop.
    assert parse_load({**load, "gracefulStop": "1m30s"}).gracefulStop == 90.0
