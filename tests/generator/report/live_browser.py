"""A headless Chromium on a live URL that a test reads again and again (the dashboard's page while
a run goes), where tests/support/chromium_driver.py reads a finished file once.

    async with live_page(url, profile) as page:
        value = await page.evaluate("document.title")
        charts = json.loads(await page.evaluate(POINTS_JS))    # title -> points, drawn
        errors = page.errors()
    await until(read, ok, timeout_s, "what")                  # poll with a deadline

Started with the project's flags and no name resolution (every host name fails; only the
page's loopback address answers); every step has a deadline and the browser is always stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.support.chromium_driver import (
    OFFLINE_FLAG,
    DevToolsSession,
    chromium_page,
    page_errors,
)

T = TypeVar("T")
# Each live chart's points (data-points) and shapes drawn, by its title.
POINTS_JS = """JSON.stringify(Object.fromEntries(
  Array.from(document.querySelectorAll('figure.live-chart')).map(f => [f.dataset.chart, {
    points: Number(f.dataset.points),
    drawn: Array.from(f.querySelectorAll('polyline')).reduce((n, p) => n + p.points.numberOfItems,
                                                             0)
           + f.querySelectorAll('rect.bar').length}])))"""


async def until(
    read: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout_s: float, what: str
) -> T:
    """Reads until ``ok`` holds; AssertionError naming ``what`` (and the last value) at the
    deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await read()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout_s} s; last: {value}")
        await asyncio.sleep(0.2)


def drawn(charts: dict[str, Any], title: str) -> int:
    found = charts.get(title, {"drawn": 0})
    return int(found["drawn"])


class LivePage:
    def __init__(self, session: DevToolsSession) -> None:
        self._s = session

    async def evaluate(self, expression: str) -> Any:
        reply = await self._s.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression[:60]}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions and console errors of the page so far."""
        return page_errors(self._s.page_events())


@contextlib.asynccontextmanager
async def live_page(url: str, profile: Path) -> AsyncIterator[LivePage]:
    # Every host name fails to resolve; the loopback literal is excluded, or Chromium's rule
    # would refuse the page itself.
    offline = f"{OFFLINE_FLAG}, EXCLUDE 127.0.0.1"
    async with chromium_page(profile, [offline]) as s:
        await s.call("Page.navigate", url=url)
        await s.wait_event("Page.loadEventFired")
        yield LivePage(s)
