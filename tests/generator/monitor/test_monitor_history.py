"""A long run's monitor holds a bounded number of samples in memory (generator/monitor/history.py)
while its evidence — the summary's monitor section, what the diagnosis rules read — is that of
every sample it took (read back from monitor.jsonl), and the live charts still reach back to the
run's first samples, thinned honestly (peaks kept, counters' last values)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from generator.monitor.config import MonitorConfig
from generator.monitor.evidence import evidence_from_samples
from generator.monitor.history import LADDER_ROWS, WINDOW, SampleHistory, merge_samples
from generator.monitor.monitor import Monitor
from tests.support.clock import FakeClock

MIB = 2**20


class Recording(SampleHistory):
    """The monitor's history, also keeping every sample it was given: the truth to compare."""

    def __init__(self) -> None:
        super().__init__()
        self.every: list[dict[str, Any]] = []

    def append(self, sample: dict[str, Any]) -> None:
        self.every.append(sample)
        super().append(sample)


class Target:
    """A backend's figures from a seeded random walk: RSS creeping up under load (a leak),
    CPU, pool waiters now and then, a cumulative 429 counter; back to rest once `resting`."""

    name = "fake"
    role = "backend"

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.resting = True
        self.rss = 100.0 * MIB
        self.limited = 0

    async def sample(self) -> dict[str, Any]:
        rng = self.rng
        if self.resting:
            rss, cpu, waiting = 100.0 * MIB + rng.uniform(0, MIB), rng.uniform(1, 5), 0
        else:
            self.rss += rng.uniform(0, 0.05 * MIB)
            self.limited += rng.randrange(0, 3)
            rss, cpu = self.rss, rng.uniform(20, 99)
            waiting = rng.randrange(0, 4) if rng.random() < 0.02 else 0
        return {
            "rss_bytes": int(rss),
            "cpu_percent": round(cpu, 2),
            "pool_waiting": waiting,
            "pool_size": 10,
            "upstream_rate_limited_total": self.limited,
        }

    async def close(self) -> None:
        return None


async def _until(check: Any, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the monitor never got there"
        await asyncio.sleep(0)


@pytest.mark.timeout(120)
async def test_a_long_run_holds_a_bounded_history_and_the_evidence_of_every_sample(
    tmp_path: Path,
) -> None:
    clock = FakeClock(1000.0)

    async def sleep(seconds: float) -> None:  # simulated time: no wait at all
        clock.advance(seconds)
        await asyncio.sleep(0)

    target = Target(seed=11)
    config = MonitorConfig(interval_s=1.0, baseline_samples=5, cooldown_s=20.0)
    monitor = Monitor(config, sources=[target])
    history = monitor.history = Recording()
    await monitor.open(tmp_path / "monitor.jsonl", clock, sleep)
    await monitor.baseline()
    target.resting = False
    origin = clock.now
    monitor.start_load(origin)
    load_samples = 6000
    held = 0

    def enough() -> bool:
        nonlocal held
        held = max(held, len(history._recent), len(monitor.samples))
        return history.counts.get("load", 0) >= load_samples

    await _until(enough)
    await monitor.end_load()
    target.resting = True
    load_end = clock.now - origin
    await monitor.cooldown()
    await monitor.close()

    every = history.every
    assert len(every) > load_samples
    bound = WINDOW + LADDER_ROWS + config.baseline_samples + 2
    assert held <= bound  # however long the run
    shown = monitor.samples
    assert len(shown) <= bound
    assert shown[0] == every[0]  # the first baseline sample, as taken
    first_load = next(s for s in shown if s["phase"] == "load")
    assert first_load["t"] <= 2 * history.width  # the load's first samples are still charted
    assert shown[-len(history._recent) :] == every[-len(history._recent) :]  # the newest: exact
    assert sum(int(s.get("samples", 1)) for s in shown) == len(every)  # each sample once

    truth = evidence_from_samples(
        every, load_end, memory_tolerance=config.memory_tolerance, db_tolerance=config.db_tolerance
    )
    evidence = monitor.evidence(load_end)
    assert evidence.as_summary() == truth.as_summary()
    assert evidence == truth  # what every diagnosis rule reads, sample for sample
    assert evidence.peak["rss_bytes"] == max(s["rss_bytes"] for s in every if s["phase"] == "load")
    assert evidence.as_summary()["samples"]["load"] >= load_samples


def test_thinned_samples_keep_peaks_and_counters_last_values() -> None:
    a = {"t": 1.0, "phase": "load", "rss_bytes": 5, "cpu_percent": 90.0, "x_total": 3, "up": True}
    b = {"t": 2.0, "phase": "load", "rss_bytes": 7, "cpu_percent": 10.0, "x_total": 4, "up": False}
    merged = merge_samples(a, b)
    assert merged == {
        "t": 2.0,
        "phase": "load",
        "rss_bytes": 7,
        "cpu_percent": 90.0,
        "x_total": 4,
        "up": False,
        "samples": 2,
    }
    history = SampleHistory(window=3, ladder_rows=4)
    for i in range(1000):
        history.append({"t": float(i), "phase": "load", "cpu_percent": float(i % 7)})
        assert len(list(history)) <= 3 + 4
    points = list(history)
    assert points[0]["cpu_percent"] == 6.0  # the peak of the samples it covers
    assert sum(int(p.get("samples", 1)) for p in points) == 1000
    assert not history.complete
    short = SampleHistory()
    short.append({"t": 0.0, "phase": "load"})
    assert short.complete
    assert list(short) == [{"t": 0.0, "phase": "load"}]


@pytest.mark.timeout(60)
def test_another_thread_reads_the_history_while_samples_are_appended() -> None:
    """A `--workers` run's page reads the parent monitor's history from its own thread."""
    history = SampleHistory()
    for i in range(5):
        history.append({"t": -5.0 + i, "phase": "baseline"})
    done = threading.Event()

    def feed() -> None:
        for i in range(100_000):
            history.append({"t": float(i), "phase": "load", "cpu_percent": float(i % 13)})
        done.set()

    feeder = threading.Thread(target=feed)
    feeder.start()
    reads = 0
    try:
        while not done.is_set() or reads < 2:
            ts = [s["t"] for s in history]  # never "deque mutated during iteration"
            assert ts[:5] == [-5.0, -4.0, -3.0, -2.0, -1.0]
            assert len(ts) <= 5 + WINDOW + LADDER_ROWS + 1
            reads += 1
    finally:
        feeder.join(timeout=30)
    assert reads > 2
