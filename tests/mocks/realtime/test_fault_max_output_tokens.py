"""``max_output_tokens``: a response cut off at its output-token limit: its audio stops
``audio_ms`` after the first delta, the response ends there, ``incomplete`` with reason
``max_output_tokens`` (its item too), the session open; an answer shorter than the cut is left
whole; switching the fault on shifts none of the older faults' seeded draws."""

from __future__ import annotations

import pytest

from tests.mocks.realtime.realtime_helpers import MANUAL_TURNS, Driver, check_sdk_shape
from tests.mocks.realtime.test_core_fault_draws import MIX, PINNED, drawn_sequence

AUDIO = "response.output_audio.delta"


def _answer(faults: dict[str, object]) -> Driver:
    d = Driver(faults)
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"})
    d.run_idle()
    return d


def test_the_audio_stops_at_the_cut_and_the_response_ends_incomplete() -> None:
    whole = _answer({})
    cut = _answer({"max_output_tokens": {"audio_ms": 100}})
    chunks = len(whole.events(AUDIO))
    assert chunks > 2  # the answer is longer than the cut: there is something to cut
    assert len(cut.events(AUDIO)) == 2  # 100 ms of the Driver's 50 ms chunks
    done = cut.events("response.done")[0]
    check_sdk_shape(done)
    assert done["response"]["status"] == "incomplete"
    assert done["response"]["status_details"] == {
        "type": "incomplete",
        "reason": "max_output_tokens",
    }
    (item_done,) = cut.events("response.output_item.done")
    check_sdk_shape(item_done)
    assert item_done["item"]["status"] == "incomplete"
    assert cut.session.record.responses[0].faults == ("max_output_tokens",)
    assert not cut.closes()
    assert cut.types()[-1] == "response.done"
    # It ends at the cut, not when the whole answer would have.
    assert cut.times("response.done")[0] - cut.times(AUDIO)[0] == pytest.approx(0.1)


def test_an_answer_under_the_limit_is_left_whole() -> None:
    whole = _answer({})
    long_cut = _answer({"max_output_tokens": {"audio_ms": 600_000}})
    assert len(long_cut.events(AUDIO)) == len(whole.events(AUDIO))
    assert long_cut.events("response.done")[0]["response"]["status"] == "completed"


def test_switching_it_on_shifts_no_older_fault() -> None:
    mix = {**MIX, "max_output_tokens": {"probability": 0.5, "audio_ms": 100}}
    with_it = drawn_sequence(2026, len(PINNED), mix)
    assert any("max_output_tokens" in faults for faults, _ in with_it)
    others = [([k for k in faults if k != "max_output_tokens"], ms) for faults, ms in with_it]
    assert others == PINNED
