"""Fixtures every test folder may use: a fake clock, a free and a closed loopback port. Their
implementations, and polling with a deadline, live in tests/support/ (importable as
``tests.support.*``: the test folders are packages, so pytest puts only the checkout's root on
sys.path and a test imports a helper by its full name)."""

from __future__ import annotations

import pytest

from tests.support import ports
from tests.support.clock import FakeClock


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock at 0.0 that moves only when the test moves it."""
    return FakeClock()


@pytest.fixture
def free_port() -> int:
    return ports.free_port()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused."""
    return ports.closed_port()
