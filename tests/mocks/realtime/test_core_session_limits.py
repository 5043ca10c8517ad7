"""What OpenAI's GA Realtime API refuses or ends, on the sans-I/O session: the retired beta shape
(``beta_api_shape_disabled``, close 4000) unless ``legacy_beta`` serves it, a GA session.update
without ``session.type`` or with beta-only fields, and the session's maximum duration
(``session_expired``, close 1001, 60 minutes unless a drill sets it)."""

from __future__ import annotations

import pytest

from mocks.realtime.outputs import Close
from mocks.realtime.session import DEFAULT_MAX_DURATION_S
from tests.mocks.realtime.realtime_helpers import MANUAL_TURNS, Driver, check_sdk_shape


def test_the_beta_shape_is_refused_as_openai_refuses_it() -> None:
    d = Driver(beta=True)
    assert d.types() == ["error", "Close"]
    (error,) = d.events("error")
    check_sdk_shape(error)
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["code"] == "beta_api_shape_disabled"
    assert "/v1/realtime" in error["error"]["message"]
    (close,) = d.closes()
    assert isinstance(close, Close)
    assert (close.code, close.reason) == (4000, "invalid_request_error.beta_api_shape_disabled")
    d.send({"type": "response.create"})  # nothing more once refused
    assert d.types() == ["error", "Close"]


@pytest.mark.parametrize("how", ["flag", "knob"])
def test_legacy_beta_serves_old_clients(how: str) -> None:
    if how == "flag":
        d = Driver(beta=True, legacy_beta=True)
    else:
        d = Driver({"legacy_beta": {}}, beta=True)
    created = d.events("session.created")[0]["session"]
    assert created["input_audio_format"] == "pcm16"
    assert not d.closes()


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"audio": {"output": {"voice": "marin"}}}, "missing_required_parameter", "session.type"),
        ({"type": "realtime", "input_audio_format": "g711_ulaw"}, "unknown_parameter", None),
        ({"type": "realtime", "modalities": ["audio"]}, "unknown_parameter", None),
        ({"type": "realtime", "temperature": 0.8}, "unknown_parameter", None),
    ],
)
def test_a_ga_session_refuses_what_the_ga_api_refuses(
    session: dict[str, object], code: str, param: str | None
) -> None:
    d = Driver()
    d.send({"type": "session.update", "session": session})
    (error,) = d.events("error")
    check_sdk_shape(error)
    assert error["error"]["code"] == code
    expected = param or "session." + next(k for k in session if k != "type")
    assert error["error"]["param"] == expected
    assert not d.events("session.updated")
    assert d.session.settings.input_format.value == "audio/pcm", "nothing applied"


def test_a_legacy_beta_session_takes_the_beta_fields() -> None:
    d = Driver(beta=True, legacy_beta=True)
    d.send({"type": "session.update", "session": {"input_audio_format": "g711_ulaw"}})
    assert not d.events("error")
    assert d.events("session.updated")[0]["session"]["input_audio_format"] == "g711_ulaw"


def test_the_session_ends_at_its_maximum_duration_set_for_a_drill() -> None:
    d = Driver({"session_max_duration": {"seconds": 30}})
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.advance(29.999)
    assert not d.closes()
    d.advance(30.0)
    error = d.events("error")[-1]
    check_sdk_shape(error)
    assert error["error"]["code"] == "session_expired"
    message = "Your session hit the maximum duration of 30 seconds."
    assert error["error"]["message"] == message
    (close,) = d.closes()
    assert isinstance(close, Close)
    assert (close.code, close.reason) == (1001, message)
    assert d.times("error")[-1] == pytest.approx(30.0)


def test_the_default_maximum_is_openais_60_minutes_and_cuts_a_response() -> None:
    d = Driver()
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.advance(DEFAULT_MAX_DURATION_S - 0.1)
    d.send({"type": "response.create"})  # a 200 ms greeting that will not finish
    d.advance(DEFAULT_MAX_DURATION_S + 1)
    (close,) = d.closes()
    assert isinstance(close, Close)
    assert (close.code, close.reason) == (
        1001,
        "Your session hit the maximum duration of 60 minutes.",
    )
    assert not d.events("response.done")
    d.session.connection_closed(1001)
    assert d.session.record.responses[0].status == "abandoned"


def test_a_maximum_duration_must_be_positive() -> None:
    from mocks.errors import ConfigError
    from mocks.realtime.faults import parse_faults

    with pytest.raises(ConfigError, match="session_max_duration"):
        parse_faults({"session_max_duration": {"seconds": 0}})
