"""``callbench mock backend``: run the mock voice backend alone until SIGTERM/SIGINT. The flags
(``add_arguments``) and the runner (``run``) are wired into the ``callbench`` command elsewhere;
``python -m mocks.backend`` uses them directly through ``main``.

Config precedence, lowest first: defaults, ``--config FILE``, ``--upstream-url``/``--db-dsn``/
``--seed``, then ``--set KEY=VALUE`` (repeatable).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mocks.backend.app import BackendServer
from mocks.backend.config import BackendConfig, build, load_file, parse_sets
from mocks.errors import ConfigError

INFRASTRUCTURE_EXIT = 3
INVALID_INPUT_EXIT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address of the public port")
    parser.add_argument("--port", type=int, default=8080, help="public port (0 = any free one)")
    parser.add_argument("--admin-port", type=int, default=8081, help="loopback admin port")
    parser.add_argument("--upstream-url", help="the Realtime upstream, ws://HOST:PORT/v1/realtime")
    parser.add_argument("--db-dsn", help="postgresql://USER:PASSWORD@HOST:PORT/DB")
    parser.add_argument("--config", type=Path, help="JSON or YAML file of BackendConfig knobs")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one knob (repeatable), e.g. --set db_pool_max=50",
    )
    parser.add_argument("--seed", type=int, help="seed of the backend's random choices")


def config_from_args(args: argparse.Namespace) -> BackendConfig:
    values: dict[str, Any] = {}
    if args.config is not None:
        values.update(load_file(args.config))
    for flag, field in (("upstream_url", "upstream_url"), ("db_dsn", "db_dsn"), ("seed", "seed")):
        if getattr(args, flag, None) is not None:
            values[field] = getattr(args, flag)
    values.update(parse_sets(args.sets))
    return build(values)


async def serve(config: BackendConfig, host: str, port: int, admin_port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = BackendServer(config)
    await server.start(host, port, admin_port)
    print(
        f"mock backend ready: http {server.url} ws {server.ws_url} admin {server.admin_url}",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await server.close()


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; ConfigError (exit 2) is raised to the caller."""
    config = config_from_args(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(serve(config, args.host, args.port, args.admin_port))
    except OSError as exc:
        print(f"mock backend: cannot listen: {exc}", file=sys.stderr)
        return INFRASTRUCTURE_EXIT
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mocks.backend", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ConfigError as exc:
        print(f"mock backend: error: {exc}", file=sys.stderr)
        return INVALID_INPUT_EXIT
