"""Twilio's request signature (`X-Twilio-Signature`), computed the way Twilio computes it, so the
webhook storm can send requests a Twilio-verifying backend accepts.

The algorithm is that of Twilio's own `RequestValidator` (the `twilio` package, checked against it
in tests/generator/workloads/test_twilio_sign.py): the full URL the request is sent to (query
string included), then, for each distinct POST parameter name in sorted order, the name followed
by each of its *distinct* values in sorted order; HMAC-SHA1 keyed with the account's auth token;
base64 of the digest. A name sent twice with the same value is signed once — that is Twilio's
behaviour, and mocks/backend/twilio_signature.py verifies the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

SIGNATURE_HEADER = "X-Twilio-Signature"


def signed_payload(url: str, params: Iterable[tuple[str, str]]) -> str:
    """The string Twilio signs: the URL, then each name with its distinct values, all sorted."""
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    return url + "".join(
        name + value for name in sorted(by_name) for value in sorted(by_name[name])
    )


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature Twilio would send for a form POST of ``params`` to ``url``."""
    payload = signed_payload(url, params)
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")
