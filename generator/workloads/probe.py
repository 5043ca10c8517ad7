"""A start-of-run reachability probe shared by the webhook and connection workloads: one TCP
connect to the target's host and port, so that a wrong URL or a stopped target ends the run at
once as TargetUnreachable (CLI exit 3) instead of as a run full of `refused` errors."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from generator.errors import TargetUnreachable

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def host_port(url: str) -> tuple[str, int]:
    """The host and port a URL connects to (default ports by scheme)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    return parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)


async def probe_tcp(url: str, timeout_s: float = 5.0) -> None:
    """Raise TargetUnreachable unless a TCP connection to the URL's host and port opens."""
    host, port = host_port(url)
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise TargetUnreachable(f"{host}:{port}: cannot connect ({reason})") from None
    writer.close()
    with contextlib.suppress(OSError):  # the probe's only job was the connect
        await writer.wait_closed()
