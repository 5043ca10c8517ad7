"""Runs `callbench` as a subprocess for the CLI tests of the http, webhooks and connections
commands (a real process: real exit codes, real run directory)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

CALLBENCH = [sys.executable, "-m", "bench.cli"]
REPO = Path(__file__).resolve().parents[3]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def summary(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


async def callbench(*argv: str, env: dict[str, str] | None = None, timeout_s: float = 90) -> Result:
    full_env = {**os.environ, **(env or {})}
    proc = await asyncio.create_subprocess_exec(
        *CALLBENCH,
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=full_env,
        cwd=str(REPO),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


def grep_dir(directory: Path, needle: str) -> list[str]:
    """Files under ``directory`` that contain ``needle``."""
    return [
        str(path)
        for path in directory.rglob("*")
        if path.is_file() and needle.encode() in path.read_bytes()
    ]
