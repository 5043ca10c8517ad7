"""``callbench mock realtime`` and ``callbench mock backend``: run one of the two mocks in the
foreground until SIGTERM/SIGINT. The flags and the serving live with each mock
(``mocks/realtime/cli.py``, ``mocks/backend/cli.py``: ``add_arguments(parser)`` and
``run(args) -> int``); this module only wires them in.

Each mock's module is imported here, inside ``register``, and an import failure is confined to
its own subcommand: a broken mock must not take the rest of ``callbench`` down with it.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from bench.errors import StackError

_MOCKS = {
    "realtime": ("mocks.realtime.cli", "the fake OpenAI Realtime upstream (WebSocket + admin)"),
    "backend": ("mocks.backend.cli", "the mock voice backend (HTTP/WebSocket + admin)"),
}

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: Any) -> None:
    mock = subparsers.add_parser("mock", help="run one of the mocks in the foreground")
    kinds = mock.add_subparsers(dest="mock", required=True, parser_class=type(mock))
    for kind, (module_name, help_text) in _MOCKS.items():
        parser = kinds.add_parser(kind, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            parser.add_argument("ignored", nargs=argparse.REMAINDER)
            parser.set_defaults(handler=_broken(module_name, exc))
            continue
        module.add_arguments(parser)
        parser.set_defaults(handler=_runner(module))


def _runner(module: ModuleType) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        code: int = module.run(args)
        return code

    return handler


def _broken(module_name: str, exc: ImportError) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        raise StackError(module_name, f"cannot be loaded: {exc}")

    return handler
