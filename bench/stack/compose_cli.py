"""``python -m bench.stack.compose_cli up|status|stats|down``: the compose runtime driven by hand
and by scripts/compose-ci.sh (stack.json on stdout for ``up``, JSON for ``status`` and ``stats``);
exit 3 when the stack fails, 2 on bad ``--set`` pairs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench.errors import StackError
from bench.stack import overrides
from bench.stack.compose import ComposeStack


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the action and flags, drive a ``ComposeStack``, print what it says."""
    parser = argparse.ArgumentParser(prog="python -m bench.stack.compose_cli", description=__doc__)
    parser.add_argument("action", choices=["up", "status", "stats", "down"])
    parser.add_argument("--state-dir", type=Path, default=Path(".callbench"))
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="PART.KEY=V")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)

    def echo(line: str) -> None:
        print(f"compose: {line}", file=sys.stderr, flush=True)

    try:
        stack = ComposeStack(
            args.state_dir, overrides.parse_pairs(args.sets), timeout=args.timeout, echo=echo
        )
        if args.action == "up":
            print(stack.up().model_dump_json(indent=2))
        elif args.action == "status":
            results = stack.status()
            print(json.dumps([asdict(r) for r in results], indent=2))
            return 0 if results and all(r.healthy for r in results) else 3
        elif args.action == "stats":
            print(json.dumps([asdict(s) for s in stack.stats()], indent=2))
        else:
            stack.down()
    except StackError as exc:
        print(f"compose: error: {exc}", file=sys.stderr)
        return 3
    except overrides.OverridesError as exc:
        print(f"compose: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
