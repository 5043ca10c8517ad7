"""Command line of the fake Realtime upstream: ``callbench mock realtime`` (wired in by
``bench/commands/mock.py``) and ``python -m mocks.realtime``. Serves in the foreground until
SIGTERM/SIGINT, then exits 0; a bad faults file raises ConfigError naming the file and every
problem (the ``callbench`` entry point turns it into one line and exit 2).

``--api-key-env NAME`` makes the fake demand ``Authorization: Bearer <key>`` with the key read
from the environment variable NAME (never from the command line, where the process list shows it).
``--legacy-beta`` serves the retired ``OpenAI-Beta: realtime=v1`` shape instead of refusing it.

The server is imported inside ``run`` so that registering the flags costs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mocks.errors import ConfigError

INVALID_INPUT_EXIT = 2
INFRASTRUCTURE_EXIT = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address of the WebSocket port")
    parser.add_argument("--port", type=int, default=8765, help="WebSocket port (0 = any free one)")
    parser.add_argument("--admin-port", type=int, default=8766, help="loopback admin/metrics port")
    parser.add_argument("--seed", type=int, default=0, help="seed of every injected fault")
    parser.add_argument("--faults", type=Path, help="JSON or YAML faults document (default: none)")
    parser.add_argument("--greeting-ms", type=int, default=1000, help="length of the greeting")
    parser.add_argument("--answer-ms", type=int, default=1500, help="length of each answer")
    parser.add_argument("--chunk-ms", type=int, default=50, help="audio per delta")
    parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="demand 'Authorization: Bearer <key>', the key read from environment variable NAME",
    )
    parser.add_argument(
        "--legacy-beta",
        action="store_true",
        help="serve the retired beta shape (OpenAI-Beta: realtime=v1) instead of refusing it",
    )


def api_key_from(args: argparse.Namespace) -> str | None:
    """The key named by ``--api-key-env``; ConfigError when that variable is unset or empty."""
    name = getattr(args, "api_key_env", None)
    if name is None:
        return None
    key = os.environ.get(name, "")
    if not key.strip():
        raise ConfigError(
            "--api-key-env", [f"environment variable {name} is not set (export the key there)"]
        )
    return key.strip()


def _check_lengths(args: argparse.Namespace) -> None:
    problems = [
        f"--{flag.replace('_', '-')} must be positive (got {getattr(args, flag)})"
        for flag in ("greeting_ms", "answer_ms", "chunk_ms")
        if getattr(args, flag) <= 0
    ]
    if problems:
        raise ConfigError("arguments", problems)


async def serve(args: argparse.Namespace, faults: Any, api_key: str | None = None) -> None:
    from mocks.realtime.server import RealtimeServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = RealtimeServer(
        faults,
        seed=args.seed,
        greeting_ms=args.greeting_ms,
        answer_ms=args.answer_ms,
        chunk_ms=args.chunk_ms,
        api_key=api_key,
        legacy_beta=getattr(args, "legacy_beta", False),
    )
    await server.start(host=args.host, port=args.port, admin_port=args.admin_port)
    # Everything imported and built so far lives as long as the process: out of the collector's
    # sight, a full collection no longer walks it, so its pauses stop landing on a response's
    # first delta (a fixed latency's p99 otherwise strays a few ms late).
    gc.freeze()
    print(f"mock realtime ready: ws {server.url} admin {server.admin_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT (exit 0); ConfigError (exit 2) is raised to the caller."""
    from mocks.realtime.faults import load_faults

    _check_lengths(args)
    api_key = api_key_from(args)
    faults = load_faults(args.faults) if args.faults is not None else None
    try:
        asyncio.run(serve(args, faults, api_key))
    except OSError as exc:
        print(f"mock realtime: cannot listen: {exc}", file=sys.stderr)
        return INFRASTRUCTURE_EXIT
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mocks.realtime", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ConfigError as exc:
        print(f"mock realtime: error: {exc}", file=sys.stderr)
        return INVALID_INPUT_EXIT
