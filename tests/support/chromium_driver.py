"""Opens a page in headless Chromium over the DevTools protocol and reports what it drew.

Chromium starts with `--remote-debugging-port=0`; its real port is read back from the
DevToolsActivePort file in the throwaway profile. `chromium_page` attaches one blank page target
(flat sessions) and hands out its `DevToolsSession`; tests/generator/report/live_browser.py reads a
live page through it. `inspect_page` loads a file, and its report collects every <svg> (title,
aria-label, drawn size, number of shapes), the "no data" notes, resources the page fetched,
console errors and uncaught exceptions (`page_errors`), and saves a screenshot. Every step has a
deadline; the browser is always stopped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
    "--window-size=1280,2000",
)
OFFLINE_FLAG = "--host-resolver-rules=MAP * ~NOTFOUND"

PROBE_JS = """JSON.stringify({
  svgs: Array.from(document.querySelectorAll('svg')).map(s => {
    const r = s.getBoundingClientRect();
    const t = s.querySelector('title');
    return {title: t ? t.textContent : '', aria: s.getAttribute('aria-label') || '',
            width: r.width, height: r.height,
            shapes: s.querySelectorAll('path, line, rect, polyline, use').length};
  }),
  noData: Array.from(document.querySelectorAll('figure.no-data figcaption'))
    .map(f => f.textContent),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  headings: Array.from(document.querySelectorAll('h1, h2')).map(h => h.textContent),
})"""


@dataclass
class PageReport:
    svgs: list[dict[str, Any]]
    no_data: list[str]
    resources: list[str]
    headings: list[str]
    errors: list[str] = field(default_factory=list)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class DevToolsSession:
    """The DevTools connection, and once attached (``session_id``) its page; ``events`` holds
    every event read so far."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session_id: str | None = None

    async def call(self, method: str, within_s: float = 20.0, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if self.session_id is not None and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session_id
        await self.ws.send(json.dumps(message))
        async with asyncio.timeout(within_s):
            while True:
                reply = json.loads(await self.ws.recv())
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    result: dict[str, Any] = reply.get("result", {})
                    return result
                self.events.append(reply)

    async def wait_event(self, method: str, within_s: float = 20.0) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        async with asyncio.timeout(within_s):
            while True:
                event = json.loads(await self.ws.recv())
                self.events.append(event)
                if event.get("method") == method:
                    return

    def page_events(self) -> list[dict[str, Any]]:
        """The events of the attached page so far."""
        return [e for e in self.events if e.get("sessionId") == self.session_id]


def page_errors(events: list[dict[str, Any]]) -> list[str]:
    """Uncaught exceptions, console errors and error log entries among ``events``."""
    found = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            found.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(f"console.{params.get('type')}: {params.get('args')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            found.append(f"log: {params['entry'].get('text')}")
    return found


async def _wait_port(profile: Path, proc: asyncio.subprocess.Process) -> tuple[int, str]:
    deadline = time.monotonic() + 30.0
    active = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        if active.is_file():
            lines = active.read_text().split()
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
        await asyncio.sleep(0.05)
    raise TimeoutError("chromium did not write DevToolsActivePort within 30 s")


@contextlib.asynccontextmanager
async def chromium_page(
    profile: Path, extra_flags: Sequence[str] = ()
) -> AsyncIterator[DevToolsSession]:
    """A fresh headless Chromium (``profile`` its throwaway user data directory) with one blank
    page attached, Runtime, Log and Page events on; closed and stopped on the way out."""
    binary = chromium_path()
    assert binary is not None, "chromium is not installed (scripts/system-deps.sh installs it)"
    await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra_flags]
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
            s = DevToolsSession(ws)
            target = await s.call("Target.createTarget", url="about:blank")
            attached = await s.call(
                "Target.attachToTarget", targetId=target["targetId"], flatten=True
            )
            s.session_id = attached["sessionId"]
            for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
                await s.call(domain)
            yield s
            # The browser may close the socket before it answers.
            with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
                await s.call("Browser.close", within_s=5.0)
    finally:
        if proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), timeout=10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def inspect_page(
    page: Path, profile: Path, screenshot: Path, *, offline: bool = False
) -> PageReport:
    """Loads ``page`` (a local file) in a fresh headless Chromium and reports what it drew."""
    uri = await asyncio.to_thread(lambda: page.resolve().as_uri())
    async with chromium_page(profile, [OFFLINE_FLAG] if offline else []) as s:
        await s.call(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=2000,
            deviceScaleFactor=1,
            mobile=False,
        )
        await s.call("Page.navigate", url=uri)
        await s.wait_event("Page.loadEventFired")
        probe = await s.call("Runtime.evaluate", expression=PROBE_JS, returnByValue=True)
        shot = await s.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(screenshot.write_bytes, base64.b64decode(shot["data"]))
        data = json.loads(probe["result"]["value"])
        errors = page_errors(s.page_events())
    return PageReport(data["svgs"], data["noData"], data["resources"], data["headings"], errors)
