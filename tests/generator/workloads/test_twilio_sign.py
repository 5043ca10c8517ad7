"""The generator's X-Twilio-Signature against Twilio's own RequestValidator (the `twilio` package
from PyPI), repeated parameter names and repeated values included; a Media Stream's handshake
signed over its URL alone."""

from __future__ import annotations

import random

import pytest
from multidict import MultiDict
from pydantic import ValidationError
from twilio.request_validator import RequestValidator

from generator.errors import InvalidInput
from generator.workloads.call import CallConfig
from generator.workloads.twilio_sign import (
    TWILIO_TOKEN_ENV,
    stream_signature_header,
    twilio_signature,
)
from tests.support.twilio_example import PARAMS, TOKEN, URL


def twilios(token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    # A MultiDict keeps every value of a repeated name, as a form body does (Flask's, aiohttp's).
    return str(RequestValidator(token).compute_signature(url, MultiDict(pairs)))


def test_documented_example_as_twilio_computes_it() -> None:
    assert twilio_signature(TOKEN, URL, PARAMS) == twilios(TOKEN, URL, PARAMS)
    assert twilio_signature(TOKEN, URL, list(reversed(PARAMS))) == twilios(TOKEN, URL, PARAMS)


def test_repeated_names_sign_each_distinct_value_once() -> None:
    repeated = [("To", "+2"), ("To", "+1"), ("To", "+2"), ("From", "+3")]
    assert twilio_signature(TOKEN, URL, repeated) == twilios(TOKEN, URL, repeated)
    # The duplicate value counts once: the same signature as without it.
    assert twilio_signature(TOKEN, URL, repeated) == twilio_signature(TOKEN, URL, repeated[1:])


def test_seeded_forms_match_twilio() -> None:
    rng = random.Random(16)
    names = ["A", "a", "B", "To", "From", "Body", "MediaUrl0", "Ä"]
    values = ["", "1", "10", "2", "x y", "+15550100", "é", "a&b=c"]
    for _ in range(300):
        pairs = [(rng.choice(names), rng.choice(values)) for _ in range(rng.randrange(0, 9))]
        url = rng.choice([URL, "http://127.0.0.1:8080/twilio/voice", "https://h/x?a=1&a=1"])
        assert twilio_signature(TOKEN, url, pairs) == twilios(TOKEN, url, pairs), pairs


def test_a_stream_s_handshake_is_signed_over_its_url_alone_as_twilio_validates_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TWILIO_TOKEN_ENV, TOKEN)
    url = "wss://agent.example.com/media-stream"
    name, signature = stream_signature_header(url, "here")
    assert name == "X-Twilio-Signature"
    assert RequestValidator(TOKEN).validate(url, {}, signature)
    assert not RequestValidator(TOKEN + "x").validate(url, {}, signature)


def test_a_signed_stream_without_the_token_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TWILIO_TOKEN_ENV, raising=False)
    with pytest.raises(InvalidInput, match=TWILIO_TOKEN_ENV):
        stream_signature_header("ws://127.0.0.1:1/media-stream", "workloads.calls.config")


def test_only_a_twilio_call_can_be_signed() -> None:
    with pytest.raises(ValidationError, match="protocol twilio only"):
        CallConfig(url="ws://127.0.0.1:1/ws/voice", protocol="native", signed=True)
    assert CallConfig(url="ws://127.0.0.1:1", protocol="twilio", signed=True).signed
