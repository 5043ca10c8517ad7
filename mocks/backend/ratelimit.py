"""Per-client rate limits by endpoint class (API, webhooks, auth), as a sliding-window log with an
injectable clock. Limits are read on every hit, so a config change applies at once."""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

# (class, window in seconds); the limit per window comes from the config.
API = ("api", 60.0)
WEBHOOK = ("webhook", 60.0)
AUTH = ("auth", 900.0)


def endpoint_class(path: str) -> tuple[str, float] | None:
    """Which limit a path falls under; None for calls, health, metrics and the like."""
    if path.startswith(("/api/voice/", "/api/vapi/webhook")) and not path.endswith("/health"):
        return WEBHOOK
    if path.startswith("/api/auth/"):
        return AUTH
    if path.startswith("/api/"):
        return API
    return None


class SlidingWindowLimiter:
    """At most ``limit`` hits per ``window_s`` for each key, counted over a sliding window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, collections.deque[float]] = {}
        self._last_sweep = clock()

    def hit(self, key: str, limit: int, window_s: float) -> float | None:
        """Record a hit; None when allowed, else the seconds until the next hit would be."""
        now = self._clock()
        hits = self._hits.setdefault(key, collections.deque())
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        self._sweep(now, window_s)
        if len(hits) >= limit:
            return max(hits[len(hits) - limit] + window_s - now, 0.001)
        hits.append(now)
        return None

    def _sweep(self, now: float, window_s: float) -> None:
        """Forget idle clients now and then, so many one-off clients do not grow memory."""
        if now - self._last_sweep < window_s:
            return
        self._last_sweep = now
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - 900.0]:
            del self._hits[key]

    def reset(self) -> None:
        self._hits.clear()


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
