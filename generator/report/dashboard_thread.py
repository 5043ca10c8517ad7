"""The live dashboard of a `--workers N` run, served by the parent process from the store it
combines the workers' snapshots into (generator/distributed/handover.py).

    with served(options.dashboard, scenario.name) as page:    # None without --dashboard
        ...                                                 # InvalidInput: the port is taken
        page.follow(lambda: handover.store, samples, handover.lock)
        ...                                                 # the children run
    # nothing left serving

The parent's main thread blocks on its children's pipes and sentinels (multiprocessing's
`wait`), so the page's server runs an event loop of its own in a thread, as the parent's target
monitor does (parent_monitor.py). The two threads share the combined store: the parent changes
it while holding the handover's lock, and the page reads it only while holding the same lock
(Dashboard.follow), about 2 ms a build for a two-worker HTTP run (docs/dashboard.md); the
charts are built from copies, the lock let go.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from generator.report.dashboard import Dashboard, Guard, Samples, Source
from generator.report.dashboard_settings import DashboardSettings

T = TypeVar("T")
STOP_TIMEOUT_S = 10.0
# Seconds of the combined store that may still gain a worker's observations: each worker hands
# its seconds over once a second, so one a second or two behind the others still lands within
# these (the one-process page rebuilds its newest 3).
COMBINED_OPEN_S = 5


class DashboardThread:
    """A Dashboard served from an event loop in a thread of its own (see the module docstring)."""

    def __init__(self, settings: DashboardSettings, name: str) -> None:
        self.dashboard = Dashboard(settings, name)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="callbench-dashboard", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str | None:
        return self.dashboard.url

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result()
        except KeyboardInterrupt:  # Ctrl-C lands on the main thread: stop the step, re-raise
            future.cancel()
            raise

    def start(self) -> str:
        """Serves the page and prints its URL; InvalidInput when the port is taken."""
        return self._call(self.dashboard.start())

    def follow(self, source: Source, samples: Samples | None, guard: Guard) -> None:
        """Chart the store ``source`` returns, read under ``guard`` (Dashboard.follow)."""

        async def switch() -> None:
            self.dashboard.follow(source, samples, guard, open_s=COMBINED_OPEN_S)

        self._call(switch())

    def close(self) -> None:
        """Stops serving (a poll in flight is cut after the server's shutdown timeout) and the
        thread's loop."""
        try:
            if self._loop.is_running():
                stopping = asyncio.run_coroutine_threadsafe(self.dashboard.stop(), self._loop)
                stopping.result(STOP_TIMEOUT_S)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=STOP_TIMEOUT_S)
            if not self._thread.is_alive():
                self._loop.close()


@contextlib.contextmanager
def served(settings: DashboardSettings | None, name: str) -> Iterator[DashboardThread | None]:
    """The page served while the block runs (None, and nothing served, without ``settings``)."""
    if settings is None:
        yield None
        return
    page = DashboardThread(settings, name)
    try:
        page.start()
        yield page
    finally:
        page.close()
