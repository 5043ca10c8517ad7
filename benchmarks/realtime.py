"""Two benchmarks on WebSockets, the client on core 0 and a cheap server on core 1, each peer in
turn per round (interleaved), medians over the rounds.

Calls: concurrent Twilio-protocol calls (20 ms frames) against twilio_sink.py at rising levels,
callbench (`callbench run`, one worker) vs a bare `websockets` client sending the same frames on
the same schedule (`twilio_sink.py client`); the highest level whose `send_lag` p99 stays under
10 ms is the figure (target >= 750, issue 17). Each call speaks for the whole run, then streams
silence until the sink's server VAD has answered, so every level holds that many calls at once;
CPU is sampled from outside while all of them are up.

Idle connections: RSS of `callbench connections` holding N idle WebSockets vs a plain
`websockets` client (ws_hold.py), sampled from outside while all N are open; per connection =
(RSS at N - RSS at N0) / (N - N0), so the interpreter and libraries cancel out (target < 40 kB
at 10,000)."""

from __future__ import annotations

import contextlib
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import psutil

from benchmarks.common import (
    CLIENT_CORE,
    SERVER_CORE,
    VENV_BIN,
    median,
    pinned,
    python_server,
    table,
)

HERE = Path(__file__).resolve().parent


CALLS_TARGET = 750  # concurrent calls per generator core at send_lag p99 < 10 ms (issue 17)
CALLS_PER_S_RAMP = 100  # calls open evenly at this rate, as a phone system's arrivals would


def ramp_s(calls: int) -> float:
    return max(1.0, calls / CALLS_PER_S_RAMP)


def calls_scenario(url: str, calls: int, seconds: int) -> dict[str, object]:
    """N VUs ramped in at CALLS_PER_S_RAMP, each one call whose single utterance lasts until the
    run ends: every VU streams 20 ms frames the whole time, and no call is torn down and redialed
    mid-run (that would be a connection benchmark, not a real-time one). The caller speaks at
    once (`greeting: none`: the sink, like a backend with server VAD, waits for the caller); the
    sink answers the end of the utterance, read from the silence after it."""
    ramp = ramp_s(calls)
    return {
        "name": "bench-calls",
        "seed": 1,
        "workloads": {
            "calls": {
                "type": "calls",
                "config": {
                    "url": url,
                    "protocol": "twilio",
                    "turns": 1,
                    "greeting": "none",
                    "utterance_ms": round((ramp + seconds) * 1000),
                },
                "load": {
                    "executor": "ramping-vus",
                    "gracefulStop": "120s",
                    "stages": [
                        {"duration": f"{ramp}s", "target": calls},
                        {"duration": f"{seconds}s", "target": calls},
                    ],
                },
            }
        },
        "thresholds": {"send_lag": ["p(99)<10"]},
    }


class Measured(NamedTuple):
    """One peer at one level: its send_lag p99, failed calls, and CPU share of its core while
    every call was up (from the moment all its sockets were open to the first hang-up)."""

    p99_ms: float
    failed: int
    cpu_pct: float


class Run(NamedTuple):
    """A client's output and what it cost while it held all its sockets (from the moment it had
    ``sockets`` open to the moment it no longer had): CPU share of its core, highest RSS."""

    out: str
    err: str
    cpu_pct: float
    rss: int


def run_sampled(argv: list[str], sockets: int, timeout: float) -> Run:
    """Run a client pinned to the client core, sampled every 0.25 s."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = psutil.Popen(pinned(CLIENT_CORE, argv), stdout=out, stderr=err, text=True)
        first: tuple[float, float] | None = None
        last: tuple[float, float] | None = None
        rss, deadline = 0, time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(psutil.Error):
                    if proc.num_fds() >= sockets:
                        times = proc.cpu_times()
                        sample = (time.monotonic(), times.user + times.system)
                        first, last = first or sample, sample
                        rss = max(rss, proc.memory_info().rss)
                time.sleep(0.25)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        out.seek(0)
        err.seek(0)
        cpu = float("nan")
        if first and last and last[0] > first[0]:
            cpu = 100.0 * (last[1] - first[1]) / (last[0] - first[0])
        return Run(out.read(), err.read(), cpu, rss)


def callbench_calls(url: str, calls: int, seconds: int) -> Measured:
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "calls.yaml"
        scenario.write_text(json.dumps(calls_scenario(url, calls, seconds)), encoding="utf-8")
        argv = [str(VENV_BIN / "callbench"), "run", str(scenario), "--workers", "1", "--json",
                "--no-monitor", "--out", str(Path(tmp) / "run")]  # fmt: skip
        run = run_sampled(argv, calls, 2 * seconds + 300)
        try:
            summary = json.loads(run.out)
        except ValueError:
            raise RuntimeError(f"callbench run failed: {run.err[-2000:]}") from None
        lag = summary["metrics"].get("send_lag", {}).get("p99", float("nan"))
        return Measured(float(lag), int(summary.get("calls", {}).get("failed", 0)), run.cpu_pct)


def plain_calls(url: str, calls: int, seconds: int) -> Measured:
    argv = [str(VENV_BIN / "python"), str(HERE / "twilio_sink.py"), "client", url, str(calls),
            str(ramp_s(calls) + seconds), str(ramp_s(calls))]  # fmt: skip
    run = run_sampled(argv, calls, 2 * seconds + 300)
    try:
        found = json.loads(run.out)
    except ValueError:
        raise RuntimeError(f"plain peer failed: {run.err[-2000:]}") from None
    return Measured(float(found["p99"]), int(found["failed"]), run.cpu_pct)


CALL_PEERS = {"callbench": callbench_calls, "plain websockets": plain_calls}


def calls(rounds: int, seconds: int, levels: list[int]) -> tuple[str, list[str]]:
    """Each level: every peer in turn per round; stops after the first level callbench misses."""
    rows, best = [], 0
    with python_server("twilio_sink.py") as port:
        url = f"ws://127.0.0.1:{port}"
        for level in levels:
            found: dict[str, list[Measured]] = {name: [] for name in CALL_PEERS}
            for _ in range(rounds):
                for name, peer in CALL_PEERS.items():
                    found[name].append(peer(url, level, seconds))
            for name, runs in found.items():
                lags = [m.p99_ms for m in runs]
                rows.append([level, name, f"{median(lags):.2f}",
                             " ".join(f"{v:.2f}" for v in lags),
                             f"{median([m.cpu_pct for m in runs]):.0f}",
                             sum(m.failed for m in runs)])  # fmt: skip
            ours = found["callbench"]
            if median([m.p99_ms for m in ours]) < 10 and not any(m.failed for m in ours):
                best = level
            else:
                break
    met = "MET" if best >= CALLS_TARGET else "MISSED"
    verdict = (f"Calls: {best} concurrent Twilio calls on one core with send_lag p99 < 10 ms "
               f"(target >= {CALLS_TARGET}): {met}")  # fmt: skip
    text = table(
        f"Concurrent Twilio calls, generator on core {CLIENT_CORE}, sink on core {SERVER_CORE} "
        f"({rounds} rounds x ramp + {seconds}s, median)",
        ["calls", "client", "send_lag p99 ms", "rounds", "CPU % (all up)", "failed calls"],
        rows)  # fmt: skip
    return text, [verdict]


def hold_ramp_s(count: int) -> float:
    # The one-core Python server behind ws_hold.py completes ~1,000 handshakes a second.
    return max(5.0, count / 1000)


def callbench_hold(url: str, count: int, hold: int, out_dir: str) -> list[str]:
    # Each connection is held longer than the ramp, so all of them are open at once.
    ramp = hold_ramp_s(count)
    return [str(VENV_BIN / "callbench"), "connections", "--url", url, "--target", str(count),
            "--ramp", f"{ramp:g}s", "--hold", f"{ramp + hold:g}", "--workers", "1", "--json",
            "--no-monitor", "--out", out_dir]  # fmt: skip


def plain_hold(url: str, count: int, hold: int, _out_dir: str) -> list[str]:
    return [str(VENV_BIN / "python"), str(HERE / "ws_hold.py"), "client", url, str(count),
            str(hold)]  # fmt: skip


HOLD_PEERS = {"callbench connections": callbench_hold, "plain websockets": plain_hold}


def held_rss(argv: list[str], count: int, hold: int) -> int:
    """Highest RSS of a client while it held ``count`` connections (0 if it never did)."""
    return run_sampled(argv, count, hold_ramp_s(count) + 2 * hold + 120).rss


def idle(rounds: int, count: int, small: int, hold: int) -> tuple[str, list[str]]:
    """kB per held connection: (RSS holding ``count`` - RSS holding ``small``) / the difference,
    each peer in turn per round."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(20000, hard), hard))
    per: dict[str, list[float]] = {name: [] for name in HOLD_PEERS}
    rss: dict[str, list[int]] = {name: [] for name in HOLD_PEERS}
    with python_server("ws_hold.py") as port:
        url = f"ws://127.0.0.1:{port}/"
        for _ in range(rounds):
            for name, argv_of in HOLD_PEERS.items():
                with tempfile.TemporaryDirectory() as tmp:
                    low = held_rss(argv_of(url, small, hold, f"{tmp}/small"), small, hold)
                    high = held_rss(argv_of(url, count, hold, f"{tmp}/large"), count, hold)
                if not (low and high):
                    raise RuntimeError(f"{name} never held all its connections")
                per[name].append((high - low) / (count - small) / 1024)
                rss[name].append(high)
    rows = [[name, f"{median(v):.1f}", " ".join(f"{x:.1f}" for x in v),
             f"{median(rss[name]) / 2**20:.0f}"] for name, v in per.items()]  # fmt: skip
    ours = median(per["callbench connections"])
    verdict = (f"Connections: {ours:.1f} kB of generator RSS per idle WebSocket at {count} "
               f"(target < 40 kB): {'MET' if ours < 40 else 'MISSED'}")  # fmt: skip
    text = table(
        f"RSS per idle WebSocket on core {CLIENT_CORE}, {count} vs {small} held connections "
        f"({rounds} rounds, median)",
        ["client", "kB per connection", "rounds", f"RSS MB at {count}"], rows)  # fmt: skip
    return text, [verdict]
