"""The `callbench` command: parses arguments, dispatches to bench/commands/*, and turns the
package's exceptions into one clear line and a distinct exit code (never a traceback)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

from bench import exitcodes
from bench.errors import BenchError, StackError, UsageError
from generator.errors import InvalidInput, TargetUnreachable
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
    """Runs a command handler; the package's exceptions become one line and an exit code."""
    try:
        return handler(args)
    except KeyboardInterrupt:
        if not quiet_interrupt:
            print("callbench: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED
    except (UsageError, InvalidInput, ConfigError) as exc:
        print(f"callbench: error: {exc}", file=sys.stderr)
        return exitcodes.INVALID_INPUT
    except (StackError, TargetUnreachable) as exc:
        print(f"callbench: error: {exc}", file=sys.stderr)
        return exitcodes.INFRASTRUCTURE
    except BenchError as exc:
        print(f"callbench: error: {exc}", file=sys.stderr)
        return exitcodes.FAILED


if __name__ == "__main__":
    sys.exit(main())
