"""Bounded memory and disk on a long run: an HTTP mix at full speed against nginx for 10 minutes
(`--quick`: 2), the client on core 0 (one worker), nginx on core 1.

Sampled once a second while it runs: the callbench process's RSS and its run directory's size.
Reported against issue 17's targets: RSS at the end of the load within 10 % of RSS at minute 1;
the run directory under 5 MB per minute of run (the largest growth of any minute, and the whole
directory over the run's minutes, reports included); `callbench report --format html` on the
run under 5 s. For context, hey's RSS over the same duration (same core, same connections); hey
keeps every request's latency for its report, up to a million."""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import psutil
import yaml

from benchmarks.common import CLIENT_CORE, VENV_BIN, nginx, pinned, table

CONNECTIONS = 64
MIB = 1024.0 * 1024.0
MB = 1e6
RSS_GROWTH = 0.10  # targets (issue 17, point 5)
MB_PER_MIN = 5.0
REPORT_S = 5.0


class Sample(NamedTuple):
    t: float  # seconds since the load began
    rss: int  # bytes, the process and its children
    dir_bytes: int


class SoakRun(NamedTuple):
    samples: list[Sample]
    load_s: float
    requests: float
    report_s: float  # `callbench report --format html` on the run
    dir_bytes: int  # the run directory at the end, reports included


def _rss(pid: int) -> int:
    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in (proc, *proc.children(recursive=True)))
    except psutil.Error:
        return 0


def _dir_bytes(path: Path) -> int:
    total = 0
    for each in path.rglob("*"):
        with contextlib.suppress(OSError):
            if each.is_file():
                total += each.stat().st_size
    return total


def _watch(
    proc: subprocess.Popen[str], began: Callable[[], float | None], out: Path | None
) -> list[Sample]:
    """Samples ``proc`` once a second until it exits; times count from ``began()`` (None until
    the load has begun: nothing is sampled before)."""
    samples: list[Sample] = []
    next_at = time.monotonic()
    while proc.poll() is None:
        start = began()
        if start is not None:
            rss = _rss(proc.pid)
            size = 0 if out is None else _dir_bytes(out)
            if rss:
                samples.append(Sample(time.monotonic() - start, rss, size))
        next_at += 1.0
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, next_at - time.monotonic()))
    return samples


def _at(samples: list[Sample], t: float) -> Sample:
    """The last sample taken at or before ``t`` (the first one if none was)."""
    before = [s for s in samples if s.t <= t]
    return before[-1] if before else samples[0]


def _scenario(url: str, seconds: int) -> dict[str, object]:
    return {
        "name": "bench-soak",
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


def _callbench(url: str, seconds: int, tmp: Path) -> SoakRun:
    path, out = tmp / "scenario.yaml", tmp / "run"
    path.write_text(yaml.safe_dump(_scenario(url, seconds)), encoding="utf-8")
    argv = [str(VENV_BIN / "callbench"), "run", str(path), "--workers", "1", "--json",
            "--no-monitor", "--out", str(out)]  # fmt: skip
    first: list[float] = []

    def began() -> float | None:
        # The load begins with the store, which opens metrics.jsonl first thing.
        if not first and (out / "metrics.jsonl").is_file():
            first.append(time.monotonic())
        return first[0] if first else None

    with subprocess.Popen(pinned(CLIENT_CORE, argv), stdout=subprocess.PIPE, text=True) as proc:
        samples = _watch(proc, began, out)
        stdout = proc.stdout.read() if proc.stdout else ""
    if proc.returncode not in (0, 1) or not samples:
        raise RuntimeError(f"callbench run exited {proc.returncode} ({len(samples)} samples)")
    summary = json.loads(stdout)
    report_began = time.monotonic()
    subprocess.run(
        pinned(CLIENT_CORE, [str(VENV_BIN / "callbench"), "report", str(out), "--format", "html"]),
        capture_output=True,
        timeout=600,
        check=True,
    )
    return SoakRun(
        samples,
        float(summary["duration_s"]),
        float(summary["counters"]["http_reqs"]),
        time.monotonic() - report_began,
        _dir_bytes(out),
    )


def _hey(url: str, seconds: int) -> list[Sample]:
    argv = pinned(CLIENT_CORE, ["hey", "-z", f"{seconds}s", "-c", str(CONNECTIONS), url])
    began = time.monotonic()
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, text=True) as proc:
        return _watch(proc, lambda: began, None)


def soak(minutes: int) -> tuple[str, list[str]]:
    seconds = minutes * 60
    with nginx() as served, tempfile.TemporaryDirectory(prefix="callbench-soak-") as tmp:
        run = _callbench(served.url, seconds, Path(tmp))
        try:
            hey: list[Sample] = _hey(served.url, seconds)
        except OSError as exc:  # hey not installed: the targets are the point
            print(f"  hey: {exc}")
            hey = []
    samples, load_s = run.samples, run.load_s
    m1, end = _at(samples, 60.0), _at(samples, load_s - 1.0)
    growth = end.rss / m1.rss - 1.0
    per_minute = [
        (_at(samples, 60.0 * (k + 1)).dir_bytes - _at(samples, 60.0 * k).dir_bytes) / MB
        for k in range(minutes)
    ]
    whole_per_min = run.dir_bytes / MB / (load_s / 60.0)
    report_s, rate = run.report_s, run.requests / load_s
    peak = max(s.rss for s in samples)
    rows = [
        ["requests/s (callbench)", f"{rate:,.0f}", "", ""],
        ["RSS at minute 1 MiB", f"{m1.rss / MIB:.1f}", _hey_rss(hey, 60.0), ""],
        [f"RSS at {end.t:.0f} s (end of load) MiB", f"{end.rss / MIB:.1f}",
         _hey_rss(hey, seconds - 1.0), ""],
        ["RSS growth, minute 1 to end", f"{growth * 100:+.1f} %", _hey_growth(hey, seconds),
         f"within {RSS_GROWTH * 100:.0f} %"],
        ["RSS peak, reports included MiB", f"{peak / MIB:.1f}", "", ""],
        ["run dir growth per minute MB", " ".join(f"{x:.2f}" for x in per_minute), "",
         f"< {MB_PER_MIN:.0f}"],
        ["run dir at the end, per minute of run MB", f"{whole_per_min:.2f}", "",
         f"< {MB_PER_MIN:.0f}"],
        ["`callbench report --format html` s", f"{report_s:.2f}", "", f"< {REPORT_S:.0f}"],
    ]  # fmt: skip
    text = table(
        f"Soak: HTTP mix at full speed against nginx, {minutes} min, {CONNECTIONS} connections, "
        f"client on core {CLIENT_CORE} (1 worker), nginx on core 1",
        ["figure", "callbench", "hey", "target"],
        rows,
    )

    def verdict(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    verdicts = [
        f"Soak: RSS {growth * 100:+.1f} % from minute 1 to the end of {minutes} min "
        f"(target within {RSS_GROWTH * 100:.0f} %): {verdict(abs(growth) <= RSS_GROWTH)}",
        f"Soak: run dir at most {max(per_minute):.2f} MB in any minute, {whole_per_min:.2f} MB "
        f"per minute overall (target < {MB_PER_MIN:.0f}): "
        f"{verdict(max([*per_minute, whole_per_min]) < MB_PER_MIN)}",
        f"Soak: callbench report --format html {report_s:.2f} s (target < {REPORT_S:.0f} s): "
        f"{verdict(report_s < REPORT_S)}",
    ]
    return text, verdicts


def _hey_rss(samples: list[Sample], t: float) -> str:
    return f"{_at(samples, t).rss / MIB:.1f}" if samples else "-"


def _hey_growth(samples: list[Sample], seconds: int) -> str:
    if not samples:
        return "-"
    first, last = _at(samples, 60.0), _at(samples, seconds - 1.0)
    return f"{(last.rss / first.rss - 1.0) * 100:+.1f} %"
