"""`--start-at TIME`: shards (or runs on several machines) whose load begins at one instant.

k6-operator starts its runners paused and has a starter pod resume them all at once; here every
process is given the same wall-clock instant and holds until its clock reaches it, so nothing
has to reach the others. The instant is read once, where the flags are read:

    2026-12-02T05:00:00Z, 2026-12-02T06:00:00+01:00   ISO 8601 with a timezone
    1796187600, 1796187600.5                          a Unix timestamp in seconds
    +30s, +30 s, +2m, +1h, +30                        that long after now (this process's now)

An instant more than AHEAD_LIMIT_S away is refused (a millisecond timestamp or a wrong year).
When the wait begins, an instant already past by at most LATE_LIMIT_S starts the load at once
with a warning (a pod scheduled late still runs; the merge aligns its slice by wall clock); an
instant further in the past is refused (exit 2): the load would no longer overlap the others'.
The wait follows the wall clock in steps of at most a second (so an NTP step is seen) and ends on
Ctrl-C (KeyboardInterrupt, exit 130 in the CLI) with nothing yet started.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from generator.errors import InvalidInput

LATE_LIMIT_S = 60.0
AHEAD_LIMIT_S = 24 * 3600.0
STEP_S = 1.0
FLAG = "--start-at"
_RELATIVE = re.compile(r"\+\s*(\d+(?:\.\d+)?)\s*([smh]?)")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}
_HOW = "give an ISO 8601 instant with a timezone (2026-12-02T05:00:00Z), a Unix timestamp in "
_HOW += "seconds, or +N s (that long from now)"


def parse_start_at(text: str, now: float) -> float:
    """The instant (Unix seconds) ``text`` names, ``now`` being the wall clock's reading."""
    spelled = text.strip()
    relative = _RELATIVE.fullmatch(spelled)
    if relative:
        at = now + float(relative.group(1)) * _UNIT_S[relative.group(2)]
    elif re.fullmatch(r"\d+(?:\.\d+)?", spelled):
        at = float(spelled)
    else:
        at = _iso_instant(spelled)
    if not math.isfinite(at):
        raise InvalidInput(FLAG, [f"{text!r} is not a time: {_HOW}"])
    if at - now > AHEAD_LIMIT_S:
        raise InvalidInput(
            FLAG,
            [
                f"{text!r} is {at - now:.0f} s from now, more than {AHEAD_LIMIT_S:.0f} s "
                "(a Unix timestamp in milliseconds? give seconds)"
            ],
        )
    return at


def _iso_instant(text: str) -> float:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(FLAG, [f"{text!r} is not a time: {_HOW}"]) from None
    if when.tzinfo is None:
        raise InvalidInput(
            FLAG, [f"{text!r} has no timezone: add Z or an offset (+00:00), as every shard must "
                   "read the same instant"]
        )  # fmt: skip
    return when.timestamp()


def describe(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class StartAt:
    """The instant ``at`` (Unix seconds) a run's load begins. ``clock`` reads the wall clock and
    ``sleep`` waits (a test's fakes); ``say`` is where the wait is announced (None: nowhere)."""

    at: float
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    say: TextIO | None = field(default_factory=lambda: sys.stderr)
    late_limit_s: float = LATE_LIMIT_S

    @classmethod
    def parse(cls, text: str, clock: Callable[[], float] = time.time) -> StartAt:
        return cls(parse_start_at(text, clock()), clock=clock)

    def wait(self) -> float:
        """Holds until the wall clock reaches ``at``; returns how late the start is (0 when on
        time). Raises InvalidInput when ``at`` is past by more than ``late_limit_s``."""
        late = self.clock() - self.at
        if late > self.late_limit_s:
            raise InvalidInput(
                FLAG,
                [
                    f"{describe(self.at)} was {late:.1f} s ago, more than the "
                    f"{self.late_limit_s:.0f} s a late start may be: give a later instant"
                ],
            )
        if late >= 0:
            if late > 0.5:
                self._say(f"{FLAG} {describe(self.at)} was {late:.1f} s ago; starting now")
            return late
        self._say(f"waiting until {describe(self.at)} to start ({-late:.1f} s; Ctrl-C stops)")
        while (left := self.at - self.clock()) > 0:
            self.sleep(min(left, STEP_S))
        return self.clock() - self.at

    def _say(self, line: str) -> None:
        if self.say is not None:
            print(f"callbench: {line}", file=self.say, flush=True)
