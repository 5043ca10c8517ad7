"""A headless Chromium on a live URL that a test reads again and again (the dashboard's page while
a run goes), where tests/support/chromium_driver.py reads a finished file once.

    async with live_page(url, profile) as page:
        value = await page.evaluate("document.title")
        errors = page.errors()

Started with the project's flags and no name resolution (every host name fails; only the
page's loopback address answers); every step has a deadline and the browser is always stopped.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.support.chromium_driver import (
    OFFLINE_FLAG,
    DevToolsSession,
    chromium_page,
    page_errors,
)


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
