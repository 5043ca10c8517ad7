"""A clock the test moves by hand: pass it wherever the code takes a ``() -> float`` clock."""

from __future__ import annotations


class FakeClock:
    """``clock()`` returns ``clock.now``; ``advance(s)`` (or assigning ``now``) moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"a clock does not go back ({seconds} s)")
        self.now += seconds
        return self.now
