"""The sender's head start before a first delta follows the timers' observed lateness, within
its floor and cap; a timer armed through it records how late it fired; the spin ends at its
deadline and lets other tasks run meanwhile; the collector is held off while any session holds
it, and left as it was found."""

from __future__ import annotations

import asyncio
import gc
import math

import pytest

from mocks.realtime.timers import (
    BUDGET_S,
    CAP_S,
    FLOOR_S,
    HEADROOM_S,
    START_S,
    WINDOW,
    TimerLateness,
    hold_collector,
)


def test_the_head_start_is_the_cautious_default_until_enough_timers_were_seen() -> None:
    timers = TimerLateness()
    for _ in range(WINDOW // 4 - 1):
        timers.observe(0.0)
    assert timers.learned_s == START_S
    timers.observe(0.0)
    assert timers.learned_s == FLOOR_S


def test_the_head_start_follows_the_latest_window_s_worst_lateness() -> None:
    timers = TimerLateness()
    for _ in range(WINDOW):
        timers.observe(0.0005)
    timers.observe(0.0032)
    assert timers.learned_s == pytest.approx(0.0032 + HEADROOM_S)
    for _ in range(WINDOW):  # the late one leaves the window
        timers.observe(0.0005)
    assert timers.learned_s == FLOOR_S


def test_the_head_start_is_capped_and_early_timers_count_as_prompt() -> None:
    timers = TimerLateness()
    for _ in range(WINDOW):
        timers.observe(-0.001)
    assert timers.learned_s == FLOOR_S
    timers.observe(0.5)
    assert timers.learned_s == CAP_S


def test_past_its_budget_in_a_second_the_head_start_drops_to_the_floor_until_the_next() -> None:
    timers = TimerLateness()
    for _ in range(WINDOW):
        timers.observe(0.004)
    wanted = timers.learned_s
    now = 100.0
    spins = 0
    while timers.head_start(now) == wanted:
        timers.charge(now, now + wanted)
        now += 0.01
        spins += 1
    # A spin is allowed while what was spent and the next one fit in the budget.
    assert spins == math.floor((BUDGET_S - wanted) / (wanted - FLOOR_S)) + 1
    assert int(now) == 100
    assert timers.head_start(now) == FLOOR_S
    assert timers.head_start(101.0) == wanted


@pytest.mark.timeout(10)
async def test_a_timer_armed_through_it_fires_and_records_its_lateness() -> None:
    loop = asyncio.get_running_loop()
    timers = TimerLateness()
    fired = asyncio.Event()
    when = loop.time() + 0.01
    timers.call_at(loop, when, fired.set)
    await asyncio.wait_for(fired.wait(), 5)
    assert loop.time() >= when
    seen = timers.recent
    assert len(seen) == 1
    assert 0.0 <= seen[0] < 1.0


@pytest.mark.timeout(10)
async def test_the_spin_reaches_its_deadline_and_lets_other_tasks_run() -> None:
    loop = asyncio.get_running_loop()
    turns = 0

    async def neighbour() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(neighbour())
    deadline = loop.time() + 0.005
    await TimerLateness().spin_until(loop, deadline)
    other.cancel()
    assert loop.time() >= deadline
    assert turns > 1


def test_the_collector_is_off_while_any_hold_lasts_and_back_on_after_the_last() -> None:
    assert gc.isenabled()
    with hold_collector():
        assert not gc.isenabled()
        with hold_collector():  # a second session's (or server's) overlapping hold
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_found_off_stays_off() -> None:
    gc.disable()
    try:
        with hold_collector():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.timeout(10)
async def test_a_hold_asked_to_end_on_yield_ends_when_its_task_waits() -> None:
    # A send waiting on a slow reader yields to the loop: the hold must not outlast that.
    with hold_collector() as hold:
        assert not gc.isenabled()
        hold.release_on_yield()
        assert not gc.isenabled()  # no yield yet: still held
        await asyncio.sleep(0)
        assert gc.isenabled()
    assert gc.isenabled()  # the release at the end found it released: nothing more
