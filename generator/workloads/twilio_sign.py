"""Twilio's request signature (`X-Twilio-Signature`), computed the way Twilio computes it, so the
webhook storm can send requests a Twilio-verifying backend accepts, and a Twilio call can open
its Media Stream as Twilio does: Twilio signs the WebSocket handshake too (its Media Streams
firewall page asks the application to validate it), a GET, so over the URL alone.

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
import os
from collections.abc import Iterable
from typing import Final

from generator.errors import InvalidInput

SIGNATURE_HEADER: Final = "X-Twilio-Signature"
TWILIO_TOKEN_ENV: Final = "TWILIO_AUTH_TOKEN"


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


def stream_signature_header(url: str, where: str) -> tuple[str, str]:
    """The handshake header of a Media Stream to ``url``, keyed with $TWILIO_AUTH_TOKEN from
    this process's environment; InvalidInput (at ``where``) when it is not set."""
    token = os.environ.get(TWILIO_TOKEN_ENV)
    if not token:
        raise InvalidInput(where, [f"signed: ${TWILIO_TOKEN_ENV} is not set"])
    return SIGNATURE_HEADER, twilio_signature(token, url, ())
