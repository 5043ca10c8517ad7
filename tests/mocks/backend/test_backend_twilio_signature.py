"""X-Twilio-Signature verification against Twilio's own RequestValidator (the `twilio` package
from PyPI): the signatures it computes and the requests it accepts, repeated parameter names,
repeated values and URL ports included."""

from __future__ import annotations

import random

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from mocks.backend.twilio_signature import compute_signature, is_valid
from tests.support.twilio_example import PARAMS, TOKEN, URL

DOCUMENTED = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="  # twilio.com/docs/usage/security
URLS = [
    URL,
    "https://example.com/hook",
    "https://example.com:443/hook",
    "http://127.0.0.1:8080/twilio/voice?x=1",
    "http://example.com/a?b=1&b=1",
]


def validator() -> RequestValidator:
    return RequestValidator(TOKEN)


def test_matches_twilio_documented_example() -> None:
    assert compute_signature(TOKEN, URL, PARAMS) == DOCUMENTED
    assert compute_signature(TOKEN, URL, list(reversed(PARAMS))) == DOCUMENTED
    assert validator().compute_signature(URL, MultiDict(PARAMS)) == DOCUMENTED


def test_validation() -> None:
    assert is_valid(TOKEN, URL, PARAMS, DOCUMENTED)
    assert not is_valid(TOKEN, URL, [*PARAMS[:-1], ("To", "+18005551213")], DOCUMENTED)
    assert not is_valid("other", URL, PARAMS, DOCUMENTED)
    assert not is_valid(TOKEN, URL, PARAMS, None)


def test_repeated_names_as_twilio() -> None:
    repeated = [("To", "+2"), ("To", "+1"), ("To", "+2"), ("From", "+3")]
    signed = compute_signature(TOKEN, URL, repeated)
    assert signed == validator().compute_signature(URL, MultiDict(repeated))
    assert is_valid(TOKEN, URL, repeated[1:], signed)  # the duplicate value counts once
    assert not is_valid(TOKEN, URL, [("To", "+2"), ("From", "+3")], signed)


def test_seeded_requests_accepted_exactly_when_twilio_accepts_them() -> None:
    rng = random.Random(16)
    names = ["A", "a", "To", "From", "Body", "MediaUrl0"]
    values = ["", "1", "10", "2", "x y", "é"]
    checked = accepted = 0
    for _ in range(200):
        pairs = [(rng.choice(names), rng.choice(values)) for _ in range(rng.randrange(0, 7))]
        request_url = rng.choice(URLS)
        signed_url = rng.choice(URLS) if rng.random() < 0.3 else request_url
        signature = validator().compute_signature(signed_url, MultiDict(pairs))
        if rng.random() < 0.2:
            pairs = [*pairs, ("To", "+19")]  # tampered after signing
        expected = validator().validate(request_url, MultiDict(pairs), signature)
        assert is_valid(TOKEN, request_url, pairs, signature) == expected, (request_url, pairs)
        checked += 1
        accepted += expected
    assert 0 < accepted < checked  # both outcomes were exercised


def test_port_variants_as_twilio() -> None:
    for signed_url, request_url in [
        ("https://example.com/hook", "https://example.com:443/hook"),
        ("https://example.com:443/hook", "https://example.com/hook"),
        ("http://example.com/hook", "http://example.com:8080/hook"),
        ("http://example.com:8080/hook", "http://example.com/hook"),
        ("http://example.com:80/hook", "http://example.com:8080/hook"),
    ]:
        signature = compute_signature(TOKEN, signed_url, PARAMS)
        expected = validator().validate(request_url, MultiDict(PARAMS), signature)
        assert is_valid(TOKEN, request_url, PARAMS, signature) == expected, (
            signed_url,
            request_url,
        )
