"""X-Twilio-Signature, checked against the example in Twilio's own documentation."""

from __future__ import annotations

from mocks.backend.twilio_signature import compute_signature, is_valid

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
DOCUMENTED = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="  # twilio.com/docs/usage/security


def test_matches_twilio_documented_example() -> None:
    assert compute_signature(TOKEN, URL, PARAMS) == DOCUMENTED
    assert compute_signature(TOKEN, URL, list(reversed(PARAMS))) == DOCUMENTED


def test_validation() -> None:
    assert is_valid(TOKEN, URL, PARAMS, DOCUMENTED)
    assert not is_valid(TOKEN, URL, [*PARAMS[:-1], ("To", "+18005551213")], DOCUMENTED)
    assert not is_valid("other", URL, PARAMS, DOCUMENTED)
    assert not is_valid(TOKEN, URL, PARAMS, None)


def test_default_port_variants() -> None:
    signed = compute_signature(TOKEN, "https://example.com/hook", PARAMS)
    assert is_valid(TOKEN, "https://example.com:443/hook", PARAMS, signed)
