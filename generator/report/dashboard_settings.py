"""What `--dashboard [PORT]` asks for, as a run option (generator/options.py): kept apart from
the dashboard's server (dashboard.py) so that building RunOptions imports no web server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from generator.errors import InvalidInput

HOST = "127.0.0.1"  # loopback only: the page shows the run's figures to this machine alone


@dataclass(frozen=True)
class DashboardSettings:
    """``port``: where on 127.0.0.1 to serve the live page (0: a free port). ``announce``: where
    its URL is printed (None: stderr)."""

    port: int = 0
    announce: TextIO | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidInput("dashboard port", [f"must be 0-65535 (got {self.port})"])
