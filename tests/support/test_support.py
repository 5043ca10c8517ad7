"""The shared test helpers do what their callers rely on: the fake clock moves only by hand and
never back, a closed port refuses connections, polling returns once the condition holds and
fails (naming it) at its deadline, a nearest-rank percentile is the ceil(q × n)-th value."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.support.clock import FakeClock
from tests.support.percentiles import nearest_rank
from tests.support.polling import poll_until, wait_until
from tests.support.ports import LOOPBACK


def test_the_fake_clock_moves_only_forward_and_by_hand(fake_clock: FakeClock) -> None:
    assert fake_clock() == 0.0
    assert fake_clock.advance(1.5) == 1.5
    assert fake_clock() == 1.5
    with pytest.raises(ValueError, match="does not go back"):
        fake_clock.advance(-0.1)
    assert fake_clock() == 1.5


def test_a_closed_port_refuses(closed_port: int) -> None:
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((LOOPBACK, closed_port), 2),
    ):
        pass


def test_a_free_port_can_be_listened_on(free_port: int) -> None:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, free_port))
        sock.listen()
        with socket.create_connection((LOOPBACK, free_port), 2):
            pass


def test_poll_until_returns_when_true_and_fails_at_its_deadline() -> None:
    calls = []
    poll_until(lambda: calls.append(1) or len(calls) >= 3, 5.0, interval_s=0.001)
    assert len(calls) == 3
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"the moon not met within 0\.05 s"):
        poll_until(lambda: False, 0.05, what="the moon")
    assert 0.05 <= time.monotonic() - started < 2.0


async def test_wait_until_lets_the_loop_run() -> None:
    flag = asyncio.Event()
    asyncio.get_running_loop().call_later(0.02, flag.set)
    await wait_until(flag.is_set, 5.0, what="the timer")
    with pytest.raises(AssertionError, match="never not met"):
        await wait_until(lambda: False, 0.05, what="never")


def test_nearest_rank_is_the_ceil_q_n_th_smallest() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert nearest_rank(values, 0.99) == 99.0  # not the maximum
    assert nearest_rank(values, 0.5) == 50.0
    assert nearest_rank(values, 0.01) == 1.0
    assert nearest_rank([7.0], 0.99) == 7.0
