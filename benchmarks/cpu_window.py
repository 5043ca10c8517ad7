"""CPU time a client process spent within a wall-clock window: requests per CPU-second.

On a shared machine a pinned client gets whatever share of its core the neighbours leave it, so
its requests/s say as much about them as about the client; the CPU time it took per request does
not (much). Peers written in Go or C start in milliseconds, so their whole process's CPU time is
their load's (`children_cpu`). callbench spends a few CPU-seconds importing and writing reports
around its load, so its process tree is sampled (`CpuSampler`) and read between the instants
its load started and ended (from its run directory and summary).
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from types import TracebackType

from benchmarks.common import cpu_seconds

SAMPLE_S = 0.02


def children_cpu() -> float:
    """User + system CPU seconds of this process's children that have ended and been waited for
    (read before and after a `subprocess.run` of a peer: the difference is the peer's)."""
    times = os.times()
    return times.children_user + times.children_system


class CpuSampler:
    """Samples a process tree's CPU time every `SAMPLE_S` from a thread, with the wall-clock
    instant (time.time()), until the `with` block ends or the process is gone."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._instants: list[float] = []
        self._cpu: list[float] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.is_set():
            cpu = cpu_seconds(self._pid)
            if cpu != cpu:  # NaN: the process is gone
                return
            self._instants.append(time.time())
            self._cpu.append(cpu)
            self._done.wait(SAMPLE_S)

    def at(self, instant: float) -> float:
        """CPU seconds used by ``instant``, interpolated between the samples around it."""
        if not self._instants or not self._instants[0] <= instant <= self._instants[-1]:
            raise RuntimeError("the load's window is outside the CPU samples")
        i = bisect.bisect_left(self._instants, instant)
        if self._instants[i] == instant:
            return self._cpu[i]
        t0, t1 = self._instants[i - 1], self._instants[i]
        c0, c1 = self._cpu[i - 1], self._cpu[i]
        return c0 + (c1 - c0) * (instant - t0) / (t1 - t0)

    def between(self, start: float, end: float) -> float:
        return self.at(end) - self.at(start)


__all__ = ["CpuSampler", "children_cpu"]
