"""The target monitor of a `--workers N` run, sampled once from the parent (each worker watching
would multiply the load on the target's metrics and count its DB connections N times).

The parent's main thread blocks on its children (multiprocessing's `wait`), so the monitor's
event loop runs in a thread of its own; the parent drives it through the same steps the
single-process Runner does: baseline before the children start, load samples while they run, the
cooldown after, then the evidence for the merged summary. Sample times are relative to the moment
the parent starts its children: each child's own clock starts ~0.5 s later (spawn), which the
monitor's 1 s sampling does not resolve.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from generator.monitor.evidence import MonitorEvidence
from generator.monitor.monitor import Monitor

T = TypeVar("T")


class ParentMonitor:
    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="callbench-monitor", daemon=True
        )
        self._thread.start()
        self._opened = False

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result()
        except KeyboardInterrupt:  # Ctrl-C lands on the main thread: stop the step, re-raise
            future.cancel()
            raise

    def baseline(self, path: Path) -> None:
        """Opens RUN_DIR/monitor.jsonl and takes the baseline samples."""
        self._call(self.monitor.open(path))
        self._opened = True
        self._call(self.monitor.baseline())

    def start_load(self) -> None:
        async def start(origin: float) -> None:
            self.monitor.start_load(origin)  # creates its sampling task on this loop

        self._call(start(time.monotonic()))

    def end_load(self) -> None:
        self._call(self.monitor.end_load())

    def cooldown(self) -> None:
        self._call(self.monitor.cooldown())

    def evidence(self, load_end_t: float | None) -> MonitorEvidence:
        return self.monitor.evidence(load_end_t)

    def close(self) -> None:
        try:
            if self._opened:
                asyncio.run_coroutine_threadsafe(self.monitor.close(), self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
