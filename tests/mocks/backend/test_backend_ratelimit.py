"""The sliding-window limiter with a fake clock, and the endpoint classes."""

from __future__ import annotations

import pytest

from mocks.backend.ratelimit import (
    API,
    AUTH,
    WEBHOOK,
    SlidingWindowLimiter,
    endpoint_class,
    retry_after_header,
)
from tests.support.clock import FakeClock


def test_limit_then_window_slides() -> None:
    clock = FakeClock(1000.0)
    limiter = SlidingWindowLimiter(clock)
    for _ in range(3):
        assert limiter.hit("a", 3, 60.0) is None
        clock.now += 10
    wait = limiter.hit("a", 3, 60.0)
    assert wait == pytest.approx(30.0)  # the first hit (t=1000) leaves the window at t=1060
    assert limiter.hit("b", 3, 60.0) is None  # other clients are not affected
    clock.now += 30.01
    assert limiter.hit("a", 3, 60.0) is None
    assert limiter.hit("a", 3, 60.0) is not None


def test_reset_forgets() -> None:
    limiter = SlidingWindowLimiter(FakeClock(1000.0))
    assert limiter.hit("a", 1, 60.0) is None
    assert limiter.hit("a", 1, 60.0) is not None
    limiter.reset()
    assert limiter.hit("a", 1, 60.0) is None


def test_endpoint_classes() -> None:
    assert endpoint_class("/api/voice/conference-events") == WEBHOOK
    assert endpoint_class("/api/vapi/webhook") == WEBHOOK
    assert endpoint_class("/api/vapi/webhook/health") == API
    assert endpoint_class("/api/auth/login") == AUTH
    assert endpoint_class("/api/assistants") == API
    assert endpoint_class("/health") is None
    assert endpoint_class("/ws/voice/x") is None


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after_header(0.2) == "1"
    assert retry_after_header(29.1) == "30"
