"""HTTP requests/s per client core against nginx on the other core: callbench vs wrk, hey,
Locust FastHttpUser and a plain aiohttp loop, 64 keep-alive connections each, interleaved
rounds; and callbench with 2 workers vs 1 (target: 2 workers >= 1.7x where the target is not the
bottleneck).

nginx's own CPU share is measured during every run. With only two cores, the 2-worker runs share
them with nginx, and the faster the generator, the more of a core nginx takes: at ~40k req/s it
is about half of one. So scaling is measured twice, with the lean client (default) and with
`client: aiohttp` (about half the requests/s per core, so nginx takes half the share); the
verdict is the pair where nginx took less."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks.common import (
    CLIENT_CORE,
    PEERS_BIN,
    VENV_BIN,
    cpu_seconds,
    median,
    nginx,
    pinned,
    table,
)

CONNECTIONS = 64
HERE = Path(__file__).resolve().parent


def _out(argv: list[str], timeout: float) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {done.returncode}: {done.stderr[-400:]}")
    return done.stdout


def _per_s(text: str) -> float:
    found = re.search(r"Requests/sec:\s*([\d.]+)", text)
    if not found:
        raise RuntimeError(f"no Requests/sec in: {text[-300:]}")
    return float(found.group(1))


def wrk(url: str, seconds: int) -> float:
    argv = pinned(CLIENT_CORE, ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", url])
    return _per_s(_out(argv, seconds + 30))


def hey(url: str, seconds: int) -> float:
    argv = pinned(CLIENT_CORE, ["hey", "-z", f"{seconds}s", "-c", str(CONNECTIONS), url])
    return _per_s(_out(argv, seconds + 30))


def aiohttp_loop(url: str, seconds: int) -> float:
    script = str(HERE / "aiohttp_loop.py")
    argv = [str(VENV_BIN / "python"), script, url + "/", str(CONNECTIONS), str(seconds)]
    return float(_out(pinned(CLIENT_CORE, argv), seconds + 30).strip())


def locust(url: str, seconds: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        prefix = str(Path(tmp) / "l")
        argv = [str(PEERS_BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless",
                "-u", str(CONNECTIONS), "-r", str(CONNECTIONS), "-t", f"{seconds}s",
                "--host", url, "--csv", prefix, "--only-summary",
                "--loglevel", "WARNING"]  # fmt: skip
        subprocess.run(pinned(CLIENT_CORE, argv), capture_output=True, timeout=seconds + 60,
                       check=False)  # fmt: skip
        with open(prefix + "_stats.csv", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["Name"] == "Aggregated":
                    return float(row["Requests/s"])
    raise RuntimeError("locust wrote no Aggregated row")


def callbench(
    url: str, seconds: int, workers: int = 1, core: str = CLIENT_CORE, client: str = "fast"
) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        scenario = {
            "name": "bench-http",
            "workloads": {
                "http": {
                    "type": "http",
                    "config": {"base_url": url, "endpoints": [{"name": "root", "path": "/"}],
                               "health_path": None, "max_connections": CONNECTIONS,
                               "client": client},
                    "load": {"executor": "constant-vus", "vus": CONNECTIONS,
                             "duration": f"{seconds}s"},
                }
            },
        }  # fmt: skip
        path = Path(tmp) / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
        argv = [str(VENV_BIN / "callbench"), "run", str(path), "--workers", str(workers),
                "--json", "--out", str(Path(tmp) / "run")]  # fmt: skip
        summary = json.loads(_out(pinned(core, argv), seconds + 60))
        return float(summary["counters"]["http_reqs"]) / float(summary["duration_s"])


def run(rounds: int, seconds: int) -> tuple[str, list[str]]:
    peers: dict[str, Callable[[str, int], float]] = {"callbench": callbench}
    for name, func, need in (("wrk", wrk, "wrk"), ("hey", hey, "hey")):
        if shutil.which(need):
            peers[name] = func
    if (PEERS_BIN / "locust").exists():
        peers["locust FastHttpUser"] = locust
    peers["aiohttp loop (uvloop)"] = aiohttp_loop
    peers["callbench 1 worker, cores 0-1"] = lambda u, s: callbench(u, s, 1, "0,1")
    peers["callbench 2 workers, cores 0-1"] = lambda u, s: callbench(u, s, 2, "0,1")
    peers["callbench aiohttp, 1 worker, cores 0-1"] = lambda u, s: callbench(
        u, s, 1, "0,1", "aiohttp"
    )
    peers["callbench aiohttp, 2 workers, cores 0-1"] = lambda u, s: callbench(
        u, s, 2, "0,1", "aiohttp"
    )
    results: dict[str, list[float]] = {name: [] for name in peers}
    server_cpu: dict[str, list[float]] = {name: [] for name in peers}
    with nginx() as served:
        for _ in range(rounds):
            for name, peer in peers.items():
                before = cpu_seconds(served.pid)
                try:
                    results[name].append(peer(served.url, seconds))
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                    print(f"  {name}: {exc}")
                    continue
                # nginx works only while the load runs (not during a peer's start-up or
                # merge), so its share is its CPU time over the load's duration.
                server_cpu[name].append((cpu_seconds(served.pid) - before) / seconds * 100)
    med = {name: median(values) for name, values in results.items()}
    cpu = {name: median(values) for name, values in server_cpu.items()}
    rows = [[name, f"{med[name]:,.0f}", " ".join(f"{v:,.0f}" for v in results[name]),
             f"{cpu[name]:.0f}"] for name in peers]  # fmt: skip
    verdicts = []
    if "locust FastHttpUser" in med:
        ratio = med["callbench"] / med["locust FastHttpUser"]
        verdicts.append(f"HTTP: callbench {ratio:.2f}x Locust FastHttpUser per core "
                        f"(target >= 2x): {'MET' if ratio >= 2 else 'MISSED'}")  # fmt: skip
    pairs = {
        "lean client": ("callbench 1 worker, cores 0-1", "callbench 2 workers, cores 0-1"),
        "client: aiohttp": (
            "callbench aiohttp, 1 worker, cores 0-1",
            "callbench aiohttp, 2 workers, cores 0-1",
        ),
    }
    scales = {label: med[two] / med[one] for label, (one, two) in pairs.items()}
    fairest = min(pairs, key=lambda label: cpu[pairs[label][1]])
    for label, scale in scales.items():
        verdicts.append(f"Workers ({label}): 2 workers {scale:.2f}x 1 worker; nginx took "
                        f"{cpu[pairs[label][1]]:.0f} % of a core beside them")  # fmt: skip
    met = "MET" if scales[fairest] >= 1.7 else "MISSED"
    verdicts.append(f"Workers: {scales[fairest]:.2f}x with {fairest}, where nginx took least "
                    f"(target >= 1.7x): {met}")  # fmt: skip
    text = table(
        f"HTTP requests/s, {CONNECTIONS} connections, client on core {CLIENT_CORE}, nginx on "
        f"core 1 ({rounds} rounds x {seconds}s, median)",
        ["peer", "median req/s", "rounds", "nginx CPU %"],
        rows,
    )
    return text, verdicts
