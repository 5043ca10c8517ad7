"""A headless Chromium on a live URL that a test reads again and again (the dashboard's page while
a run goes), where tests/support/chromium_driver.py reads a finished file once.

    async with live_page(url, profile) as page:
        value = await page.evaluate("document.title")
        errors = page.errors()

Started with the project's flags and no name resolution (every host name fails; only the
page's loopback address answers); every step has a deadline and the browser is always stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import websockets

from tests.support.chromium_driver import (
    CHROMIUM_FLAGS,
    OFFLINE_FLAG,
    _errors,
    _Session,
    _wait_port,
    chromium_path,
)


class LivePage:
    def __init__(self, session: _Session) -> None:
        self._s = session

    async def evaluate(self, expression: str) -> Any:
        reply = await self._s.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression[:60]}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions and console errors of the page so far."""
        mine = [e for e in self._s.events if e.get("sessionId") == self._s.session_id]
        return _errors(mine)


@contextlib.asynccontextmanager
async def live_page(url: str, profile: Path) -> AsyncIterator[LivePage]:
    binary = chromium_path()
    assert binary is not None, "chromium is not installed (scripts/system-deps.sh installs it)"
    await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
    # Every host name fails to resolve; the loopback literal is excluded, or Chromium's rule
    # would refuse the page itself.
    offline = f"{OFFLINE_FLAG}, EXCLUDE 127.0.0.1"
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", offline]
    proc = await asyncio.create_subprocess_exec(
        binary,
        *flags,
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        port, path = await _wait_port(profile, proc)
        async with websockets.connect(
            f"ws://127.0.0.1:{port}{path}", max_size=64 * 1024 * 1024, open_timeout=10
        ) as ws:
            s = _Session(ws)
            target = await s.call("Target.createTarget", url="about:blank")
            attached = await s.call(
                "Target.attachToTarget", targetId=target["targetId"], flatten=True
            )
            s.session_id = attached["sessionId"]
            for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
                await s.call(domain)
            await s.call("Page.navigate", url=url)
            await s.wait_event("Page.loadEventFired")
            yield LivePage(s)
            with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
                await s.call("Browser.close", within_s=5.0)
    finally:
        if proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), timeout=10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
