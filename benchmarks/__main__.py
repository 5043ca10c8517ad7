"""`python -m benchmarks [--quick] [--only http,calls,idle,headroom,afterload]` (what `make bench`
runs): every benchmark, its table, and whether each target is met. Figures go to stdout (Markdown
tables, ready for docs/performance.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from benchmarks import after_load, headroom, http_peers, realtime, soak
from benchmarks.common import machine


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short rounds (a smoke run)")
    parser.add_argument(
        "--only", default="http,calls,idle,headroom,afterload", help="which benchmarks"
    )
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    rounds, secs = 3, (3 if args.quick else 10)
    print(f"machine: {machine()}")
    print(f"reproduce: python -m benchmarks {' '.join(argv or sys.argv[1:])}\n")
    verdicts: list[str] = []
    if "http" in only:
        text, found = http_peers.run(rounds, secs)
        print(text + "\n", flush=True)
        verdicts += found
    if "calls" in only:
        levels = [250, 500, 750] if args.quick else [100, 250, 500, 750, 1000]
        text, found = realtime.calls(rounds, 5 if args.quick else 15, levels)
        print(text + "\n", flush=True)
        verdicts += found
    if "idle" in only:
        count = 2000 if args.quick else 10000
        text, found = realtime.idle(rounds, count, 500, 10 if args.quick else 20)
        print(text + "\n", flush=True)
        verdicts += found
    if "headroom" in only:  # the drill's load is what it is: --quick changes nothing here
        text, found = headroom.headroom(rounds)
        print(text + "\n", flush=True)
        verdicts += found
    if "afterload" in only:
        text, found = after_load.after_load(rounds, secs)
        print(text + "\n", flush=True)
        verdicts += found
    if "soak" in only:  # not in the default list: 10 minutes (--quick: 2), twice (hey)
        text, found = soak.soak(2 if args.quick else 10)
        print(text + "\n", flush=True)
        verdicts += found
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
