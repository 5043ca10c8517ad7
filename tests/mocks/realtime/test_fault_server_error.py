"""``server_error``: a response that fails after its first audio with an ``error`` of type
``server_error`` and a failed ``response.done``, the session still open; it fires at its
probability, and switching it on shifts none of the older faults' seeded draws."""

from __future__ import annotations

import math

from tests.mocks.realtime.realtime_helpers import MANUAL_TURNS, Driver, check_sdk_shape
from tests.mocks.realtime.test_core_fault_draws import MIX, PINNED, drawn_sequence


def test_the_response_fails_after_its_first_audio_and_the_session_goes_on() -> None:
    d = Driver({"server_error": {"probability": 1.0}})
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"})
    d.run_idle()
    assert len(d.events("response.output_audio.delta")) == 1
    (error,) = d.events("error")
    check_sdk_shape(error)
    assert error["error"]["type"] == "server_error"
    done = d.events("response.done")[0]
    check_sdk_shape(done)
    assert done["response"]["status"] == "failed"
    assert done["response"]["status_details"]["error"]["type"] == "server_error"
    assert d.session.record.responses[0].faults == ("server_error",)
    assert not d.closes()
    d.faults = d.faults.__class__()  # off again: the next response completes
    d.send({"type": "response.create"})
    d.run_idle()
    assert d.events("response.done")[1]["response"]["status"] == "completed"


def test_it_fires_at_its_probability() -> None:
    n, p = 200, 0.25
    d = Driver({"server_error": {"probability": p}}, seed=4)
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    for _ in range(n):
        d.send({"type": "response.create"})
        d.run_idle()
    failed = [e for e in d.events("response.done") if e["response"]["status"] == "failed"]
    assert abs(len(failed) - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def test_switching_it_on_shifts_no_older_fault() -> None:
    with_it = drawn_sequence(2026, len(PINNED), {**MIX, "server_error": {"probability": 0.5}})
    assert any("server_error" in faults for faults, _ in with_it)
    others = [([k for k in faults if k != "server_error"], ms) for faults, ms in with_it]
    assert others == PINNED
