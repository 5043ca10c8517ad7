"""Two benchmarks on WebSockets, the generator on core 0 and a cheap server on core 1.

Calls: concurrent Twilio-protocol calls (20 ms frames) against twilio_sink.py at rising levels;
the highest level whose `send_lag` p99 stays under 10 ms is the figure (target >= 500).

Idle connections: peak RSS of `callbench connections` holding N idle WebSockets vs a plain
`websockets` client (ws_hold.py); per connection = (RSS at N - RSS at N0) / (N - N0), so the
interpreter and libraries cancel out (target < 40 kB at 10,000)."""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.common import CLIENT_CORE, VENV_BIN, median, pinned, python_server, table

HERE = Path(__file__).resolve().parent


def calls_level(url: str, calls: int, seconds: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        argv = [str(VENV_BIN / "callbench"), "calls", "--url", url, "--protocol", "twilio",
                "--calls", str(calls), "--duration", f"{seconds}s", "--turns", "1",
                "--workers", "1", "--json", "--out", str(Path(tmp) / "run"),
                "--threshold", "send_lag:p(99)<10"]  # fmt: skip
        done = subprocess.run(pinned(CLIENT_CORE, argv), capture_output=True, text=True,
                              timeout=seconds + 120, check=False)  # fmt: skip
        summary = json.loads(done.stdout)
        return float(summary["metrics"].get("send_lag", {}).get("p99", float("nan")))


def calls(rounds: int, seconds: int, levels: list[int]) -> tuple[str, list[str]]:
    rows, best = [], 0
    with python_server("twilio_sink.py") as port:
        url = f"ws://127.0.0.1:{port}"
        for level in levels:
            lags = [calls_level(url, level, seconds) for _ in range(rounds)]
            lag = median(lags)
            rows.append([level, f"{lag:.2f}", " ".join(f"{v:.2f}" for v in lags)])
            if lag < 10:
                best = level
            else:
                break
    verdict = (f"Calls: {best} concurrent Twilio calls on one core with send_lag p99 < 10 ms "
               f"(target >= 500): {'MET' if best >= 500 else 'MISSED'}")  # fmt: skip
    text = table(f"Concurrent real-time calls on core {CLIENT_CORE} ({rounds} rounds x "
                 f"{seconds}s, median)", ["calls", "send_lag p99 ms", "rounds"], rows)  # fmt: skip
    return text, [verdict]


def peak_rss(argv: list[str], timeout: float) -> int:
    proc = psutil.Popen(pinned(CLIENT_CORE, argv), stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)  # fmt: skip
    peak, deadline = 0, time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(psutil.Error):
                peak = max(
                    peak, sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
                )
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return peak


def idle(rounds: int, count: int, small: int, hold: int) -> tuple[str, list[str]]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(20000, hard), hard))
    per: dict[str, list[float]] = {"callbench connections": [], "plain websockets": []}
    with python_server("ws_hold.py", "server") as port:
        url = f"ws://127.0.0.1:{port}/"
        for _ in range(rounds):
            for name in per:
                peaks = []
                for n in (small, count):
                    if name == "plain websockets":
                        argv = [str(VENV_BIN / "python"), str(HERE / "ws_hold.py"), "client",
                                url, str(n), str(hold)]  # fmt: skip
                    else:
                        argv = [str(VENV_BIN / "callbench"), "connections", "--url", url,
                                "--target", str(n), "--ramp", "5s", "--hold", str(hold),
                                "--workers", "1", "--out", tempfile.mkdtemp()]  # fmt: skip
                    peaks.append(peak_rss(argv, hold + 120))
                per[name].append((peaks[1] - peaks[0]) / (count - small) / 1024)
    rows = [[name, f"{median(v):.1f}", " ".join(f"{x:.1f}" for x in v)] for name, v in per.items()]
    ours = median(per["callbench connections"])
    verdict = (f"Connections: {ours:.1f} kB of generator RSS per idle WebSocket at {count} "
               f"(target < 40 kB): {'MET' if ours < 40 else 'MISSED'}")  # fmt: skip
    text = table(f"RSS per idle WebSocket, {count} vs {small} connections ({rounds} rounds)",
                 ["client", "median kB/conn", "rounds"], rows)  # fmt: skip
    return text, [verdict]
