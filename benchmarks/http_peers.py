"""HTTP requests/s per client core against nginx on the other core: callbench vs wrk, hey,
Locust FastHttpUser and a plain aiohttp loop, 64 keep-alive connections each, interleaved
rounds (targets: callbench >= 0.8x hey and >= 2x Locust per core); and callbench with 2 workers
vs 1 (target: 2 workers >= 1.7x where the target is not the bottleneck).

Requests per client CPU-second are shown too, for callbench (its CPU time within its load's
window: cpu_window.py), wrk and hey (their whole process's): on a shared machine a pinned client
gets only the share of its core that the neighbours leave, which moves requests/s far more than
the CPU time each request takes.

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
from typing import NamedTuple

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
from benchmarks.cpu_window import CpuSampler, children_cpu

CONNECTIONS = 64
HERE = Path(__file__).resolve().parent


class Figures(NamedTuple):
    per_s: float  # requests per second of the load
    per_cpu_s: float | None  # requests per CPU-second of the client (None: not measured)


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


def _native(argv: list[str], seconds: int) -> Figures:
    """A peer that starts in milliseconds: its whole process's CPU time is its load's."""
    before = children_cpu()
    per_s = _per_s(_out(pinned(CLIENT_CORE, argv), seconds + 30))
    cpu = children_cpu() - before
    return Figures(per_s, per_s * seconds / cpu if cpu > 0 else None)


def wrk(url: str, seconds: int) -> Figures:
    return _native(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", url], seconds)


def hey(url: str, seconds: int) -> Figures:
    return _native(["hey", "-z", f"{seconds}s", "-c", str(CONNECTIONS), url], seconds)


def aiohttp_loop(url: str, seconds: int) -> Figures:
    script = str(HERE / "aiohttp_loop.py")
    argv = [str(VENV_BIN / "python"), script, url + "/", str(CONNECTIONS), str(seconds)]
    return Figures(float(_out(pinned(CLIENT_CORE, argv), seconds + 30).strip()), None)


def locust(url: str, seconds: int) -> Figures:
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
                    return Figures(float(row["Requests/s"]), None)
    raise RuntimeError("locust wrote no Aggregated row")


def callbench(
    url: str, seconds: int, workers: int = 1, core: str = CLIENT_CORE, client: str = "fast"
) -> Figures:
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
        run_dir = Path(tmp) / "run"
        argv = [str(VENV_BIN / "callbench"), "run", str(path), "--workers", str(workers),
                "--json", "--out", str(run_dir)]  # fmt: skip
        proc = subprocess.Popen(pinned(core, argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with CpuSampler(proc.pid) as sampler:
            try:
                out, err = proc.communicate(timeout=seconds + 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise
        if proc.returncode != 0:
            raise RuntimeError(f"callbench exited {proc.returncode}: {err.decode()[-400:]}")
        summary = json.loads(out)
        requests, duration = float(summary["counters"]["http_reqs"]), float(summary["duration_s"])
        with (run_dir / "metrics.jsonl").open(encoding="utf-8") as handle:
            wall_start = float(json.loads(handle.readline())["wall"])  # the load's first instant
        try:
            cpu: float | None = sampler.between(wall_start, wall_start + duration)
        except RuntimeError:
            cpu = None
        return Figures(requests / duration, requests / cpu if cpu else None)


def run(rounds: int, seconds: int) -> tuple[str, list[str]]:
    peers: dict[str, Callable[[str, int], Figures]] = {"callbench": callbench}
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
    per_cpu: dict[str, list[float]] = {name: [] for name in peers}
    server_cpu: dict[str, list[float]] = {name: [] for name in peers}
    with nginx() as served:
        for _ in range(rounds):
            for name, peer in peers.items():
                before = cpu_seconds(served.pid)
                try:
                    figures = peer(served.url, seconds)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                    print(f"  {name}: {exc}")
                    continue
                results[name].append(figures.per_s)
                if figures.per_cpu_s is not None:
                    per_cpu[name].append(figures.per_cpu_s)
                # nginx works only while the load runs (not during a peer's start-up or
                # merge), so its share is its CPU time over the load's duration.
                server_cpu[name].append((cpu_seconds(served.pid) - before) / seconds * 100)
    med = {name: median(values) for name, values in results.items()}
    med_cpu = {name: median(values) for name, values in per_cpu.items() if values}
    cpu = {name: median(values) for name, values in server_cpu.items()}
    rows = [[name, f"{med[name]:,.0f}", " ".join(f"{v:,.0f}" for v in results[name]),
             f"{med_cpu[name]:,.0f}" if name in med_cpu else "-", f"{cpu[name]:.0f}"]
            for name in peers]  # fmt: skip
    verdicts = []
    if "hey" in med:
        ratio = med["callbench"] / med["hey"]
        verdicts.append(f"HTTP: callbench {ratio:.2f}x hey per client core in requests/s "
                        f"(target >= 0.8x): {'MET' if ratio >= 0.8 else 'MISSED'}")  # fmt: skip
        if "callbench" in med_cpu and "hey" in med_cpu:
            ratio = med_cpu["callbench"] / med_cpu["hey"]
            verdicts.append(f"HTTP: callbench {ratio:.2f}x hey in requests per client "
                            f"CPU-second (what a shared machine moves least)")  # fmt: skip
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
        ["peer", "median req/s", "rounds", "req per client CPU-s", "nginx CPU %"],
        rows,
    )
    return text, verdicts
