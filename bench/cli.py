"""The `callbench` command: parses arguments, dispatches to bench/commands/*, and turns the
package's exceptions into one clear line and a distinct exit code (never a traceback)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

from bench import exitcodes
from generator.errors import exit_code_of
from mocks.errors import ConfigError

# Each module registers its own subcommands; adding a command means adding its module here.
COMMAND_MODULES: tuple[str, ...] = (
    "bench.commands.stack",
    "bench.commands.calls",
    "bench.commands.run",
    "bench.commands.report",
    "bench.commands.http",
    "bench.commands.webhooks",
    "bench.commands.connections",
    "bench.commands.mock",
    "bench.commands.drill",
    "bench.commands.merge",
)

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad flags already; this keeps the message to one clear line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(exitcodes.INVALID_INPUT, f"callbench: error: {message} (see `{self.prog} -h`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="callbench", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_handler(cast(Handler, args.handler), args)


def run_handler(
    handler: Handler, args: argparse.Namespace, *, quiet_interrupt: bool = False
) -> int:
    """Runs a command handler; an error raised on purpose (one that carries its exit code, as
    the bench's and the generator's do, or the mocks' bad config) becomes one line and its exit
    code. Anything else is a bug and keeps its traceback."""
    try:
        return handler(args)
    except KeyboardInterrupt:
        if not quiet_interrupt:
            print("callbench: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED
    except Exception as exc:
        # The mocks are a layer of their own and do not share the generator's error types.
        code = exitcodes.INVALID_INPUT if isinstance(exc, ConfigError) else exit_code_of(exc)
        if code is None:
            raise
        print(f"callbench: error: {exc}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
