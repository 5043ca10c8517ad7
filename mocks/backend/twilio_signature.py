"""Twilio's request signature (``X-Twilio-Signature``) verified as Twilio's own
``RequestValidator`` (the ``twilio`` package) verifies it — tests/mocks/backend/
test_backend_twilio_signature.py checks both against it:

- the signed string is the full URL, then each distinct POST parameter name in sorted order, each
  followed by every *distinct* value it was sent with, in sorted order (a name repeated with the
  same value counts once);
- HMAC-SHA1 keyed with the auth token, base64 of the digest;
- a signature is accepted for the URL without its port (any port: Twilio's ``remove_port``) or
  with it (the scheme's default port added when the URL has none: ``add_port``), because Twilio's
  own signing is inconsistent about ports.

The generator signs the same way (generator/workloads/twilio_sign.py); the two layers do not
import each other, so the algorithm is written twice and tested twice against the same reference.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit


def compute_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    data = url + "".join(
        name + value for name in sorted(by_name) for value in sorted(by_name[name])
    )
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """The URL without any port, and with its port (the scheme's default when it has none)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.port is not None:
        # The last colon (not the first, as Twilio's code splits) so that [::1]:8080 stays valid.
        without = urlunsplit(parts._replace(netloc=netloc.rsplit(":", 1)[0]))
        return [without, url]
    default = 443 if parts.scheme == "https" else 80
    return [url, urlunsplit(parts._replace(netloc=f"{netloc}:{default}"))]


def is_valid(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None
) -> bool:
    if not signature:
        return False
    pairs = list(params)
    return any(
        hmac.compare_digest(compute_signature(auth_token, candidate, pairs), signature)
        for candidate in _url_variants(url)
    )
