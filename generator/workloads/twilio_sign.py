"""Twilio's request signature (`X-Twilio-Signature`), computed the way Twilio computes it, so the
webhook storm can send requests a Twilio-verifying backend accepts.

The algorithm (Twilio, "Webhooks security"): take the full URL the request is sent to (query string
included), append each POST parameter's name and value with the names sorted, HMAC-SHA1 the result
with the account's auth token as the key, and base64 the digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

SIGNATURE_HEADER = "X-Twilio-Signature"


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature Twilio would send for a form POST of ``params`` to ``url``."""
    # Sorting the pairs (not only the names) keeps repeated names in a stable order, as Twilio's
    # helper libraries do.
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")
