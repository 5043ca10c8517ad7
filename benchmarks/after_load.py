"""What a fast run costs after its load: an HTTP mix against nginx as fast as it goes, 1 and 2
workers, timed from the command's start to its exit against the load's own duration (the rest is
start-up, the workers' merge and the reports), then `callbench report --format html` on the run.

A fast HTTP mix writes ~5 events.jsonl lines per request, so reading them back is the cost that
grows with the load: the second table times the line reader the merge and the reports use
(`EventParser`: each metric's fixed line prefix decoded once) against `json.loads` of every line
(what they did before), interleaved on the same file."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks.common import CLIENT_CORE, VENV_BIN, median, nginx, pinned, table
from generator.metrics.events import EventParser

CONNECTIONS = 64


def _scenario(url: str, seconds: int) -> dict[str, object]:
    return {
        "name": "bench-after-load",
        "workloads": {
            "http": {
                "type": "http",
                "config": {"base_url": url, "endpoints": [{"name": "root", "path": "/"}],
                           "health_path": None, "max_connections": CONNECTIONS},
                "load": {"executor": "constant-vus", "vus": CONNECTIONS,
                         "duration": f"{seconds}s"},
            }
        },
    }  # fmt: skip


def _one_run(url: str, seconds: int, workers: int, out: Path) -> dict[str, float]:
    path = out.parent / "scenario.yaml"
    path.write_text(yaml.safe_dump(_scenario(url, seconds)), encoding="utf-8")
    core = CLIENT_CORE if workers == 1 else "0,1"
    # --raw-events: this benchmark times reading events.jsonl back (runs write snapshots only
    # without it since issue 17; docs/performance.md has the snapshot figures).
    argv = [str(VENV_BIN / "callbench"), "run", str(path), "--workers", str(workers), "--json",
            "--no-monitor", "--raw-events", "--out", str(out)]  # fmt: skip
    began = time.monotonic()
    done = subprocess.run(pinned(core, argv), capture_output=True, text=True, timeout=seconds * 10)
    wall = time.monotonic() - began
    summary = json.loads(done.stdout)
    began = time.monotonic()
    subprocess.run(
        [str(VENV_BIN / "callbench"), "report", str(out), "--format", "html"],
        capture_output=True,
        timeout=seconds * 20,
        check=True,
    )
    report = time.monotonic() - began
    with (out / "events.jsonl").open("rb") as handle:
        lines = sum(1 for _ in handle)
    return {
        "wall": wall,
        "load": float(summary["duration_s"]),
        "requests": float(summary["counters"]["http_reqs"]),
        "events": float(lines),
        "report": report,
    }


def _read_seconds(path: Path, parse: Callable[[str], object]) -> float:
    began = time.perf_counter()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parse(line)
    return time.perf_counter() - began


def _json_loads(line: str) -> object:
    line = line.strip()
    return json.loads(line) if line else None


def after_load(rounds: int, seconds: int) -> tuple[str, list[str]]:
    runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    readers: dict[str, list[float]] = {"EventParser": [], "json.loads per line": []}
    with nginx() as served, tempfile.TemporaryDirectory(prefix="callbench-after-") as tmp:
        for index in range(rounds):
            for workers in runs:
                out = Path(tmp) / f"run-{workers}-{index}"
                out.mkdir()
                runs[workers].append(_one_run(served.url, seconds, workers, out / "run"))
            events = Path(tmp) / f"run-1-{index}" / "run" / "events.jsonl"
            lines = runs[1][-1]["events"]
            readers["EventParser"].append(_read_seconds(events, EventParser().parse) / lines)
            readers["json.loads per line"].append(_read_seconds(events, _json_loads) / lines)
    rows = []
    for workers, found in runs.items():
        after = median([r["wall"] - r["load"] for r in found])
        per_million = median([r["report"] / r["events"] * 1e6 for r in found])
        rows.append([
            f"{workers} worker{'s' if workers > 1 else ''}",
            f"{median([r['load'] for r in found]):.1f}",
            f"{median([r['requests'] for r in found]) / 1e3:.0f}k",
            f"{median([r['events'] for r in found]) / 1e6:.2f}M",
            f"{after:.1f}",
            f"{median([r['report'] for r in found]):.1f} ({per_million:.1f} per 1M events)",
        ])  # fmt: skip
    first = table(
        f"After the load: an HTTP mix at full speed against nginx, {seconds} s, medians of "
        f"{rounds} rounds",
        ["run", "load s", "requests", "events.jsonl lines", "start-up + after the load s",
         "`callbench report --format html` s"],
        rows,
    )  # fmt: skip
    fast, plain = (median(readers[name]) * 1e6 for name in readers)
    second = table(
        "Reading events.jsonl (the 1-worker runs' files, interleaved)",
        ["reader", "median µs per line", "rounds (µs)"],
        [[name, f"{median(v) * 1e6:.2f}", ", ".join(f"{x * 1e6:.2f}" for x in v)]
         for name, v in readers.items()],
    )  # fmt: skip
    verdicts = [f"Reading events.jsonl: EventParser {plain / fast:.1f}x as fast as json.loads"]
    return first + "\n\n" + second, verdicts
