"""Twilio's documented request-signing example (twilio.com/docs/usage/security): the auth token,
the URL and the POST parameters both the generator's signer and the mock backend's validator are
checked with against Twilio's own RequestValidator."""

from __future__ import annotations

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
