"""The mocks' headroom: the mock backend and the fake Realtime upstream, as `callbench up` starts
them (local runtime), under the heaviest drill's call load (1x) and twice it (2x), interleaved
per round; the generator on core 0, the stack on core 1.

The heaviest drill is the one whose calls workload has the most calls in flight at once
(`heaviest_drill`: capacity-stress, 100 calls at once). It runs with the drill's upstream timing
(greeting_ms, answer_ms) but without its admission limit, which is the fault it teaches: here
every call is admitted, so the figures are the mocks' own cost.

No fault is injected, so the upstream sends a response's first delta as soon as it has the
`response.create`. The first caller turn makes the upstream call a tool (`check_availability`),
which the backend runs as a DB transaction that holds a pool connection `db_query_ms` (250 ms)
on a pool of `db_pool_max` (10): a queue the backend models on purpose. So the stack runs twice:
as the drill has it (turn latency is then that queue: `modelled_db_wait_ms` predicts it), and
with `backend.db_query_ms=0` (what is left is what the mocks add beyond their models). Turn
latency is split by where it is measured:

- upstream: `response.create` received → first delta sent, from its `GET /admin/stats`
  (`create_to_first_delta_ms`, every response), the upstream's own time;
- generator: the caller's end of speech → first answer audio (`turn_latency`), the whole path
  (generator → backend → upstream → backend's tool call → upstream → backend → generator);
- generator − upstream, percentile by percentile: the backend and loopback (the two are
  distributions of the same calls, so this is the added latency's order of size, not a per-call
  difference).

Also: the backend's event-loop lag p99 (its `event_loop_lag_seconds` histogram: how late a 50 ms
timer fires — a saturated loop shows it first), and each mock's busiest second of CPU."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import psutil
import yaml

from benchmarks.common import CLIENT_CORE, ROOT, SERVER_CORE, VENV_BIN, median, pinned, table
from mocks.backend.config import BackendConfig

DRILLS = ROOT / "bench" / "drills"
CONCURRENCY_KEYS = ("vus", "preAllocatedVUs", "maxVUs", "iterations", "rate")
MOCKS = ("backend", "realtime")
LOOP_LAG = "callbench_backend_event_loop_lag_seconds_bucket"


def peak_calls(load: Mapping[str, Any]) -> int:
    """Calls a load model can have in flight at once (its VU cap)."""
    return max(int(load.get(key, 0)) for key in ("vus", "preAllocatedVUs", "maxVUs"))


def heaviest_drill() -> tuple[str, dict[str, Any]]:
    """The drill whose calls workload has the most calls in flight at once, and that drill."""
    best: tuple[int, str, dict[str, Any]] | None = None
    for path in sorted(DRILLS.glob("*.yaml")):
        drill = yaml.safe_load(path.read_text(encoding="utf-8"))
        for spec in (drill.get("load") or {}).values():
            if spec.get("type") == "calls":
                calls = peak_calls(spec["load"])
                if best is None or calls > best[0]:
                    best = (calls, path.stem, drill)
    if best is None:
        raise RuntimeError(f"no drill in {DRILLS} has a calls workload")
    return best[1], best[2]


def stack_settings(drill: Mapping[str, Any]) -> dict[str, str]:
    """The drill's upstream timing; admission unlimited, Prometheus off (not under test)."""
    found = {k: str(v) for k, v in (drill.get("stack") or {}).items() if k.startswith("realtime.")}
    found.pop("realtime.faults", None)
    return {**found, "backend.max_sessions": "0", "prometheus.enabled": "off"}


def fill(text: str, urls: Mapping[str, str]) -> str:
    """``{backend.ws}``-style placeholders, as the drills write them, replaced by the URLs."""
    for key, url in urls.items():
        text = text.replace("{" + key + "}", url)
    return text


def scenario(drill: Mapping[str, Any], factor: int, urls: Mapping[str, str]) -> dict[str, Any]:
    """The drill's calls workload, its load model's counts times ``factor``."""
    name, spec = next((n, s) for n, s in drill["load"].items() if s.get("type") == "calls")
    config = {k: fill(v, urls) if isinstance(v, str) else v for k, v in spec["config"].items()}
    load = {k: v * factor if k in CONCURRENCY_KEYS else v for k, v in spec["load"].items()}
    return {"name": f"headroom-{factor}x", "seed": 1,
            "workloads": {name: {"type": "calls", "config": config, "load": load}}}  # fmt: skip


@contextlib.contextmanager
def local_stack(settings: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """`callbench up` in a private state dir (its stack.json), always brought down."""
    with tempfile.TemporaryDirectory(prefix="callbench-headroom-") as state_dir:
        up = [str(VENV_BIN / "callbench"), "up", "--state-dir", state_dir]
        for key, value in settings.items():
            up += ["--set", f"{key}={value}"]
        try:
            done = subprocess.run(up, capture_output=True, text=True, timeout=180, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"callbench up failed: {done.stderr[-2000:]}")
            yield json.loads((Path(state_dir) / "stack.json").read_text(encoding="utf-8"))
        finally:
            subprocess.run([str(VENV_BIN / "callbench"), "down", "--state-dir", state_dir],
                           capture_output=True, timeout=120, check=False)  # fmt: skip


def pin_stack(stack: Mapping[str, Any]) -> None:
    """Every process of the stack (and its threads and children) onto the server core."""
    for part in ("postgres", "pgbouncer", "realtime", "backend", "pg_exporter"):
        pid = (stack.get(part) or {}).get("pid")
        if not pid:
            continue
        with contextlib.suppress(psutil.Error):
            for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
                proc.cpu_affinity([int(SERVER_CORE)])


def fetch(url: str, method: str = "GET") -> bytes:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        body: bytes = response.read()
        return body


def loop_lag_buckets(metrics_url: str) -> dict[float, float]:
    """The backend's cumulative event-loop-lag histogram: upper bound (s) → count."""
    found: dict[float, float] = {}
    for line in fetch(metrics_url).decode().splitlines():
        if line.startswith(LOOP_LAG + "{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            found[float(bound)] = float(line.rsplit(" ", 1)[1])
    return found


def bucket_p99(before: Mapping[float, float], after: Mapping[float, float]) -> float:
    """The upper bound (ms) of the bucket holding the p99 of the samples between two scrapes."""
    counts = sorted((bound, after[bound] - before.get(bound, 0.0)) for bound in after)
    total = counts[-1][1] if counts else 0.0
    for bound, cumulative in counts:
        if total and cumulative >= 0.99 * total:
            return bound * 1000
    return float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


class Round(NamedTuple):
    calls: int
    succeeded: int
    turn_p50: float
    turn_p99: float
    upstream_p50: float
    upstream_p99: float
    greeting_p99: float
    loop_lag_p99: float
    cpu_peak: dict[str, float]


def one_round(stack: Mapping[str, Any], drill: Mapping[str, Any], factor: int) -> Round:
    urls = {f"{part}.{key}": url for part in MOCKS for key, url in stack[part]["urls"].items()}
    fetch(stack["realtime"]["urls"]["admin"] + "/admin/reset", "POST")  # this round's stats only
    lag_before = loop_lag_buckets(stack["backend"]["urls"]["metrics"])
    procs = {part: psutil.Process(stack[part]["pid"]) for part in MOCKS}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(json.dumps(scenario(drill, factor, urls)), encoding="utf-8")
        argv = [str(VENV_BIN / "callbench"), "run", str(path), "--workers", "1", "--json",
                "--no-monitor", "--out", str(Path(tmp) / "run")]  # fmt: skip
        with tempfile.TemporaryFile("w+") as out:
            run = subprocess.Popen(pinned(CLIENT_CORE, argv), stdout=out,
                                   stderr=subprocess.DEVNULL, text=True)  # fmt: skip
            peaks = busiest_seconds(run, procs)
            out.seek(0)
            summary = json.loads(out.read())
    stats = json.loads(fetch(stack["realtime"]["urls"]["admin"] + "/admin/stats"))
    responses = [r for session in stats["sessions"] for r in session["responses"]]
    upstream = [
        r["create_to_first_delta_ms"]
        for r in responses
        if r["create_to_first_delta_ms"] is not None
    ]
    metrics = summary["metrics"]
    return Round(
        calls=int(summary["calls"]["total"]),
        succeeded=int(summary["calls"]["succeeded"]),
        turn_p50=float(metrics.get("turn_latency", {}).get("p50", math.nan)),
        turn_p99=float(metrics.get("turn_latency", {}).get("p99", math.nan)),
        upstream_p50=percentile(upstream, 50),
        upstream_p99=percentile(upstream, 99),
        greeting_p99=float(metrics.get("greeting_latency", {}).get("p99", math.nan)),
        loop_lag_p99=bucket_p99(lag_before, loop_lag_buckets(stack["backend"]["urls"]["metrics"])),
        cpu_peak=peaks,
    )


def med(runs: Sequence[Round], field: str) -> float:
    return median([float(getattr(r, field)) for r in runs])


def busiest_seconds(
    run: subprocess.Popen[str], procs: Mapping[str, psutil.Process]
) -> dict[str, float]:
    """Wait for the generator run; meanwhile each mock's highest CPU % over a 1 s window."""
    peaks = dict.fromkeys(procs, 0.0)
    last = {name: (time.monotonic(), sum(p.cpu_times()[:2])) for name, p in procs.items()}
    deadline = time.monotonic() + 300
    try:
        while run.poll() is None and time.monotonic() < deadline:
            time.sleep(1.0)
            for name, proc in procs.items():
                now, cpu = time.monotonic(), sum(proc.cpu_times()[:2])
                peaks[name] = max(peaks[name], 100 * (cpu - last[name][1]) / (now - last[name][0]))
                last[name] = (now, cpu)
    finally:
        if run.poll() is None:
            run.kill()
        run.wait()
    return peaks


def modelled_db_wait_ms(calls: int, settings: Mapping[str, str]) -> float:
    """What the backend's DB model alone makes the last call wait if every call's tool call
    arrives at once: its pool serves ``db_pool_max`` transactions of ``db_query_ms`` at a time."""
    config = BackendConfig()
    pool = int(settings.get("backend.db_pool_max", config.db_pool_max))
    hold = float(settings.get("backend.db_query_ms", config.db_query_ms))
    return math.ceil(calls / pool) * hold


def variants(drill: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The stack as the drill runs it, and with the DB model's deliberate 250 ms hold off: the
    first shows the modelled pool queue, the second what the mocks add beyond any model."""
    settings = stack_settings(drill)
    return {"drill's stack": settings, "db_query_ms=0": {**settings, "backend.db_query_ms": "0"}}


def headroom(rounds: int) -> tuple[str, list[str]]:
    name, drill = heaviest_drill()
    rows, verdicts = [], []
    for variant, settings in variants(drill).items():
        found: dict[int, list[Round]] = {1: [], 2: []}
        with local_stack(settings) as stack:
            pin_stack(stack)
            for _ in range(rounds):
                for factor in found:
                    found[factor].append(one_round(stack, drill, factor))
        for factor, runs in found.items():
            calls = runs[0].calls
            rows.append([
                variant, f"{factor}x ({calls} calls)",
                f"{sum(r.succeeded for r in runs)}/{sum(r.calls for r in runs)}",
                f"{med(runs, 'turn_p50'):.1f} / {med(runs, 'turn_p99'):.1f}",
                f"{med(runs, 'upstream_p99'):.1f}",
                f"{modelled_db_wait_ms(calls, settings):.0f}",
                f"{med(runs, 'turn_p99') - med(runs, 'upstream_p99'):.1f}",
                f"{med(runs, 'greeting_p99'):.0f}",
                f"<= {med(runs, 'loop_lag_p99'):g}",
                " / ".join(f"{median([r.cpu_peak[m] for r in runs]):.0f}" for m in MOCKS),
            ])  # fmt: skip
        double = found[2]
        failed = sum(r.calls - r.succeeded for r in double)
        verdicts.append(
            f"Headroom ({variant}): at 2x {name} ({double[0].calls} calls at once) "
            f"{'every call succeeded' if not failed else f'{failed} calls FAILED'}; turn latency "
            f"p99 {med(double, 'turn_p99'):.1f} ms, of which the upstream's own "
            f"{med(double, 'upstream_p99'):.1f} ms; the DB model alone predicts up to "
            f"{modelled_db_wait_ms(double[0].calls, settings):.0f} ms (no target set)"
        )
    text = table(
        f"The mocks under {name} (1x) and twice its calls (2x): generator on core {CLIENT_CORE}, "
        f"backend + upstream + Postgres on core {SERVER_CORE} ({rounds} rounds, median, ms)",
        ["stack", "load", "calls ok", "turn latency p50 / p99 (generator)",
         "upstream's own p99 (create->first delta)", "modelled DB wait, last call",
         "turn p99 - upstream p99", "greeting latency p99", "backend loop lag p99",
         "peak CPU % backend / upstream"],
        rows)  # fmt: skip
    return text, verdicts
